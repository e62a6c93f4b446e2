package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/test/e2e/framework"
)

// retag writes a copy of a docker-save tarball under another tag.
func retag(t *testing.T, src, tag string) string {
	t.Helper()
	img, err := tarball.ImageFromPath(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "retagged.tar")
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		t.Fatal(err)
	}
	return out
}

// rolloutWatch follows a Deployment's pods and records the extremes a rollout must respect: the most pods
// alive at once (not being deleted, not finished) and, once armed, the fewest of them ready.
type rolloutWatch struct {
	mu       sync.Mutex
	pods     map[string]*corev1.Pod
	maxAlive int
	minReady int
	armed    bool
}

func watchRollout(ctx context.Context, t *testing.T, c *framework.Cluster, selector string) *rolloutWatch {
	t.Helper()
	rw := &rolloutWatch{pods: map[string]*corev1.Pod{}, minReady: 1 << 30}
	w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rw.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(rw.pods, p.Name)
			} else {
				rw.pods[p.Name] = p
			}
			alive, ready := 0, 0
			for _, p := range rw.pods {
				if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
					continue
				}
				alive++
				for _, cond := range p.Status.Conditions {
					if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			rw.maxAlive = max(rw.maxAlive, alive)
			if rw.armed {
				rw.minReady = min(rw.minReady, ready)
			}
			rw.mu.Unlock()
		}
	}()
	return rw
}

func (rw *rolloutWatch) arm() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.armed, rw.maxAlive, rw.minReady = true, 0, 1<<30
}

func (rw *rolloutWatch) extremes() (maxAlive, minReady int) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.maxAlive, rw.minReady
}

// TestDeployments drives Deployments with upstream kubectl on real pods: create, rollout status, set image
// within maxSurge/maxUnavailable, a bad image reaching ProgressDeadlineExceeded, rollout undo, history,
// pause/resume, restart, scale, self-healing of deleted pods and killed containers, and Recreate.
func TestDeployments(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	v2 := retag(t, filepath.Join(imgDir, "testserver.tar"), "skiff.local/testserver:2")
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{
		filepath.Join(imgDir, "busybox.tar"), filepath.Join(imgDir, "testserver.tar"), v2}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rolloutStatus := func(t *testing.T, name string) string {
		t.Helper()
		out, errOut, code := kubectlEnv(t, c, nil, "", "rollout", "status", "deployment/"+name, "--timeout=90s")
		if code != 0 {
			t.Fatalf("rollout status: exit %d: %s %s", code, out, errOut)
		}
		return out
	}
	getDeploy := func(name string) *appsv1.Deployment {
		d, err := c.Client.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	kubectl(t, c, "create", "deployment", "web", "--image=skiff.local/testserver:1", "--replicas=3")
	kubectl(t, c, "patch", "deployment", "web", "-p",
		`{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},"template":{"spec":{"containers":[{"name":"testserver","readinessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":1}}]}}}}`)
	mustContain(t, rolloutStatus(t, "web"), `deployment "web" successfully rolled out`)
	rw := watchRollout(ctx, t, c, "app=web")

	// The patch above changed the template, so revision 2 is current; set image makes 3.
	t.Run("SetImageWithinSurgeAndUnavailable", func(t *testing.T) {
		time.Sleep(time.Second) // let the watch see the current pods
		rw.arm()
		kubectl(t, c, "set", "image", "deployment/web", "testserver=skiff.local/testserver:2")
		rolloutStatus(t, "web")
		maxAlive, minReady := rw.extremes()
		t.Logf("during the rollout (replicas 3, maxSurge 1, maxUnavailable 0): at most %d pods alive, at least %d ready", maxAlive, minReady)
		if maxAlive > 4 || minReady < 3 {
			t.Fatalf("rollout broke its bounds: %d pods alive (max 4), %d ready (min 3)", maxAlive, minReady)
		}
		d := getDeploy("web")
		if d.Annotations["deployment.kubernetes.io/revision"] != "3" || d.Status.UpdatedReplicas != 3 || d.Status.AvailableReplicas != 3 {
			t.Fatalf("after set image: revision %q, status %+v", d.Annotations["deployment.kubernetes.io/revision"], d.Status)
		}
		rss, _ := c.Client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		sized := 0
		for _, rs := range rss.Items {
			if *rs.Spec.Replicas > 0 {
				sized++
			}
		}
		if len(rss.Items) != 3 || sized != 1 {
			t.Fatalf("%d ReplicaSets (%d with replicas), want one per revision and only the newest sized", len(rss.Items), sized)
		}
		out := kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=web")
		mustContain(t, out, "ScalingReplicaSet", "Scaled up replica set web-", "Scaled down replica set web-")
	})

	t.Run("BadImageExceedsProgressDeadlineThenUndo", func(t *testing.T) {
		kubectl(t, c, "patch", "deployment", "web", "--type=merge", "-p", `{"spec":{"progressDeadlineSeconds":10}}`)
		rolloutStatus(t, "web")
		kubectl(t, c, "set", "image", "deployment/web", "testserver=127.0.0.1:1/missing:1")
		out, errOut, code := kubectlEnv(t, c, nil, "", "rollout", "status", "deployment/web", "--timeout=90s")
		if code == 0 || !strings.Contains(errOut, `deployment "web" exceeded its progress deadline`) {
			t.Fatalf("rollout status of a bad image: exit %d, %s %s", code, out, errOut)
		}
		d := getDeploy("web")
		var progressing *appsv1.DeploymentCondition
		for i := range d.Status.Conditions {
			if d.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
				progressing = &d.Status.Conditions[i]
			}
		}
		if progressing == nil || progressing.Status != corev1.ConditionFalse || progressing.Reason != "ProgressDeadlineExceeded" {
			t.Fatalf("Progressing condition %+v", progressing)
		}
		// maxUnavailable 0: the three good pods kept serving throughout.
		if d.Status.AvailableReplicas != 3 {
			t.Fatalf("available replicas %d during the stuck rollout", d.Status.AvailableReplicas)
		}
		kubectl(t, c, "rollout", "undo", "deployment/web")
		rolloutStatus(t, "web")
		d = getDeploy("web")
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "skiff.local/testserver:2" {
			t.Fatalf("after undo the template has image %s", img)
		}
		out = kubectl(t, c, "rollout", "history", "deployment/web")
		mustContain(t, out, "REVISION", "\n1 ", "\n4 ", "\n5 ")
		// The undone-to ReplicaSet took revision 5 and remembers it was 3.
		rss, _ := c.Client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		found := false
		for _, rs := range rss.Items {
			if rs.Annotations["deployment.kubernetes.io/revision"] == "5" && rs.Annotations["deployment.kubernetes.io/revision-history"] == "3" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no ReplicaSet at revision 5 with history 3:\n%s", out)
		}
	})

	t.Run("PauseResumeRestart", func(t *testing.T) {
		kubectl(t, c, "rollout", "pause", "deployment/web")
		kubectl(t, c, "set", "image", "deployment/web", "testserver=skiff.local/testserver:1")
		time.Sleep(3 * time.Second)
		// Paused: the template's ReplicaSet (revision 2's, whose template this is again) gets the next revision
		// number, as upstream, but is not scaled up.
		d := getDeploy("web")
		if d.Status.UpdatedReplicas != 0 || d.Status.Replicas != 3 || d.Status.AvailableReplicas != 3 {
			t.Fatalf("a paused Deployment rolled out: revision %s, status %+v", d.Annotations["deployment.kubernetes.io/revision"], d.Status)
		}
		out := kubectl(t, c, "get", "deployment", "web", "-o", "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}")
		if out != "DeploymentPaused" {
			t.Fatalf("Progressing reason while paused: %q", out)
		}
		kubectl(t, c, "rollout", "resume", "deployment/web")
		rolloutStatus(t, "web")
		if img := getDeploy("web").Spec.Template.Spec.Containers[0].Image; img != "skiff.local/testserver:1" {
			t.Fatalf("image after resume %s", img)
		}
		before := getDeploy("web").Annotations["deployment.kubernetes.io/revision"]
		kubectl(t, c, "rollout", "restart", "deployment/web")
		rolloutStatus(t, "web")
		if after := getDeploy("web").Annotations["deployment.kubernetes.io/revision"]; after == before {
			t.Fatalf("rollout restart made no new revision (still %s)", after)
		}
	})

	t.Run("ScaleAndSelfHealing", func(t *testing.T) {
		kubectl(t, c, "scale", "deployment/web", "--replicas=5")
		rolloutStatus(t, "web")
		if d := getDeploy("web"); d.Status.AvailableReplicas != 5 {
			t.Fatalf("after scale: %+v", d.Status)
		}
		pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		victim := pods.Items[0]
		kubectl(t, c, "delete", "pod", victim.Name, "--wait=false")
		eventually(t, 60*time.Second, func() error {
			d := getDeploy("web")
			pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			for _, p := range pods.Items {
				if p.Name == victim.Name {
					return fmt.Errorf("deleted pod still there")
				}
			}
			if d.Status.AvailableReplicas != 5 {
				return fmt.Errorf("available %d", d.Status.AvailableReplicas)
			}
			return nil
		})
		// Killing a container's process: the node agent restarts it in place.
		target := pods.Items[1]
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + target.Status.PodIP + ":8080/exit?code=1")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, target.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].RestartCount < 1 || !p.Status.ContainerStatuses[0].Ready {
				return fmt.Errorf("container statuses %+v", p.Status.ContainerStatuses)
			}
			return nil
		})
		kubectl(t, c, "scale", "deployment/web", "--replicas=2")
		eventually(t, 60*time.Second, func() error {
			pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if len(pods.Items) != 2 {
				return fmt.Errorf("%d pods after scaling to 2", len(pods.Items))
			}
			return nil
		})
	})

	t.Run("DisruptionBudgetEvictionAndDrain", func(t *testing.T) {
		kubectl(t, c, "scale", "deployment/web", "--replicas=3")
		rolloutStatus(t, "web")
		kubectl(t, c, "create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=2")
		eventually(t, 30*time.Second, func() error {
			pdb, err := c.Client.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if st := pdb.Status; st.CurrentHealthy != 3 || st.DesiredHealthy != 2 || st.ExpectedPods != 3 || st.DisruptionsAllowed != 1 || st.ObservedGeneration != pdb.Generation {
				return fmt.Errorf("pdb status %+v", st)
			}
			return nil
		})
		pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		evict := func(name string) error {
			return c.Client.CoreV1().Pods("default").EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
		}
		if err := evict(pods.Items[0].Name); err != nil {
			t.Fatalf("first eviction (budget allows one): %v", err)
		}
		err := evict(pods.Items[1].Name)
		if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "Cannot evict pod as it would violate the pod's disruption budget") {
			t.Fatalf("second eviction: %v, want 429", err)
		}
		if se, ok := err.(*apierrors.StatusError); !ok || se.ErrStatus.Details == nil || len(se.ErrStatus.Details.Causes) == 0 ||
			se.ErrStatus.Details.Causes[0].Type != policyv1.DisruptionBudgetCause {
			t.Fatalf("429 without a DisruptionBudget cause: %#v", err)
		}
		rolloutStatus(t, "web")
		// Drain: cordons, then evicts through the budget; the replacements cannot land on the cordoned (only)
		// node, so the budget stops the drain.
		out, errOut, code := kubectlEnv(t, c, nil, "", "drain", "skiff-e2e", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=15s")
		if code == 0 || !strings.Contains(out+errOut, "disruption budget") {
			t.Fatalf("drain with a budget that cannot be met: exit %d\n%s\n%s", code, out, errOut)
		}
		node, _ := c.Client.CoreV1().Nodes().Get(ctx, "skiff-e2e", metav1.GetOptions{})
		if !node.Spec.Unschedulable {
			t.Fatalf("drain did not cordon the node")
		}
		kubectl(t, c, "uncordon", "skiff-e2e")
		rolloutStatus(t, "web")
		kubectl(t, c, "delete", "poddisruptionbudget", "web")
	})

	t.Run("NamespaceDeletionLeavesNothing", func(t *testing.T) {
		kubectl(t, c, "create", "namespace", "doomed")
		kubectl(t, c, "create", "deployment", "app", "-n", "doomed", "--image=docker.io/library/busybox:1.36", "--replicas=2", "--", "sleep", "3600")
		kubectl(t, c, "rollout", "status", "deployment/app", "-n", "doomed", "--timeout=60s")
		kubectl(t, c, "delete", "namespace", "doomed", "--timeout=90s")
		if _, err := c.Client.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("namespace still there: %v", err)
		}
		for _, kind := range []string{"pods", "replicasets", "deployments", "configmaps", "serviceaccounts", "events"} {
			if out := kubectl(t, c, "get", kind, "-n", "doomed", "-o", "name"); strings.TrimSpace(out) != "" {
				t.Fatalf("%s left in the deleted namespace:\n%s", kind, out)
			}
		}
	})

	t.Run("Recreate", func(t *testing.T) {
		kubectlIn(t, c, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: batch
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: docker.io/library/busybox:1.36
        command: ["sleep", "3600"]
`, "apply", "-f", "-")
		rolloutStatus(t, "batch")
		// Follow every pod with its template hash: old and new pods never exist together.
		w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=batch"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		var mu sync.Mutex
		live := map[string]string{} // pod -> pod-template-hash
		overlap := ""
		go func() {
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				mu.Lock()
				if ev.Type == watch.Deleted {
					delete(live, p.Name)
				} else {
					live[p.Name] = p.Labels["pod-template-hash"]
				}
				hashes := map[string]bool{}
				for _, h := range live {
					hashes[h] = true
				}
				if len(hashes) > 1 && overlap == "" {
					overlap = fmt.Sprint(live)
				}
				mu.Unlock()
			}
		}()
		kubectl(t, c, "set", "env", "deployment/batch", "MODE=v2")
		rolloutStatus(t, "batch")
		mu.Lock()
		defer mu.Unlock()
		if overlap != "" {
			t.Fatalf("Recreate ran old and new pods together: %s", overlap)
		}
	})
}
