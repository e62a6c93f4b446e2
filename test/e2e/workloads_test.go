package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/test/e2e/framework"
)

// podEvent is one pod watch event, reduced to what ordering checks need.
type podEvent struct {
	typ      watch.EventType
	name     string
	uid      types.UID
	ready    bool
	deleting bool
	revision string
}

// podLog records every event of a pod watch, in the order the API server sent them.
type podLog struct {
	mu     sync.Mutex
	events []podEvent
}

func watchPodLog(ctx context.Context, t *testing.T, c *framework.Cluster, selector string) *podLog {
	t.Helper()
	w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	l := &podLog{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			ready := false
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			l.mu.Lock()
			l.events = append(l.events, podEvent{typ: ev.Type, name: p.Name, uid: p.UID, ready: ready && p.Status.Phase == corev1.PodRunning,
				deleting: p.DeletionTimestamp != nil, revision: p.Labels[appsv1.ControllerRevisionHashLabelKey]})
			l.mu.Unlock()
		}
	}()
	return l
}

// mark returns the current length of the log, to look only at later events.
func (l *podLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

func (l *podLog) since(i int) []podEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]podEvent(nil), l.events[i:]...)
}

// firstPodEvent returns the index of the first event from i on that f accepts, or -1.
func firstPodEvent(evs []podEvent, f func(podEvent) bool) int {
	for i, e := range evs {
		if f(e) {
			return i
		}
	}
	return -1
}

func dumpPodLog(evs []podEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %s ready=%v deleting=%v rev=%s uid=%s\n", e.typ, e.name, e.ready, e.deleting, e.revision, e.uid)
	}
	return b.String()
}

const webSet = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 3
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: docker.io/library/busybox:1.36
        imagePullPolicy: Never
        command: ["sleep", "3600"]
        readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
`

// TestStatefulSets runs a StatefulSet on real pods: ordered creation (each pod only after the previous one
// is Ready), stable names and hostnames, a deleted pod coming back under its name, a rolling update from the
// highest ordinal with kubectl rollout status/history/undo, scale down from the highest ordinal, and
// Parallel pod management.
func TestStatefulSets(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Cleanup(func() {
		// Before the framework removes the pods: no set may recreate them.
		_, _, _ = c.Kubectl(context.Background(), "", "delete", "statefulsets", "--all", "--wait=false")
	})
	rolloutStatus := func(t *testing.T, what string) string {
		t.Helper()
		out, errOut, code := kubectlEnv(t, c, nil, "", "rollout", "status", what, "--timeout=120s")
		if code != 0 {
			t.Fatalf("rollout status %s: exit %d: %s %s", what, code, out, errOut)
		}
		return out
	}
	getSet := func(t *testing.T, name string) *appsv1.StatefulSet {
		t.Helper()
		s, err := c.Client.AppsV1().StatefulSets("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	log := watchPodLog(ctx, t, c, "app=web")
	time.Sleep(500 * time.Millisecond) // let the watch start
	kubectlIn(t, c, webSet, "apply", "-f", "-")
	// kubectl reports sets with a rollingUpdate block (every defaulted set) as partitioned roll outs.
	mustContain(t, rolloutStatus(t, "statefulset/web"), "partitioned roll out complete: 3 new pods have been updated")

	t.Run("OrderedCreation", func(t *testing.T) {
		evs := log.since(0)
		for i := 1; i < 3; i++ {
			prev, name := fmt.Sprintf("web-%d", i-1), fmt.Sprintf("web-%d", i)
			added := firstPodEvent(evs, func(e podEvent) bool { return e.name == name && e.typ == watch.Added })
			prevReady := firstPodEvent(evs, func(e podEvent) bool { return e.name == prev && e.ready })
			if added < 0 || prevReady < 0 || added < prevReady {
				t.Fatalf("%s created (event %d) before %s was Ready (event %d):\n%s", name, added, prev, prevReady, dumpPodLog(evs))
			}
		}
		if n := firstPodEvent(evs, func(e podEvent) bool { return e.name == "web-3" }); n >= 0 {
			t.Fatalf("a fourth pod:\n%s", dumpPodLog(evs))
		}
	})

	t.Run("IdentityAndRevisions", func(t *testing.T) {
		set := getSet(t, "web")
		st := set.Status
		if st.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 ||
			st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision || st.ObservedGeneration != set.Generation {
			t.Fatalf("status %+v", st)
		}
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("web-%d", i)
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Spec.Hostname != name || p.Spec.Subdomain != "web" || p.Labels[appsv1.StatefulSetPodNameLabel] != name ||
				p.Labels[appsv1.PodIndexLabel] != fmt.Sprint(i) || p.Labels[appsv1.ControllerRevisionHashLabelKey] != st.UpdateRevision ||
				!metav1.IsControlledBy(p, set) {
				t.Fatalf("pod %s: hostname %q subdomain %q labels %v", name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
			}
		}
		if got := strings.TrimSpace(kubectl(t, c, "exec", "web-0", "--", "hostname")); got != "web-0" {
			t.Fatalf("hostname in web-0: %q", got)
		}
		cr, err := c.Client.AppsV1().ControllerRevisions("default").Get(ctx, st.UpdateRevision, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cr.Revision != 1 || !metav1.IsControlledBy(cr, set) || !strings.Contains(string(cr.Data.Raw), `"$patch":"replace"`) {
			t.Fatalf("revision %s: %d %s", cr.Name, cr.Revision, cr.Data.Raw)
		}
		mustContain(t, kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=web"),
			"SuccessfulCreate", "create Pod web-0 in StatefulSet web successful")
	})

	t.Run("StableNameAfterDelete", func(t *testing.T) {
		old, err := c.Client.CoreV1().Pods("default").Get(ctx, "web-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		kubectl(t, c, "delete", "pod", "web-1", "--wait=false")
		eventually(t, 90*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "web-1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.UID == old.UID || !workloadPodReady(p) {
				return fmt.Errorf("web-1 not yet replaced and ready (uid %s)", p.UID)
			}
			return nil
		})
		pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if len(pods.Items) != 3 {
			t.Fatalf("%d pods after the replacement", len(pods.Items))
		}
		rolloutStatus(t, "statefulset/web")
	})

	t.Run("RollingUpdateFromHighestOrdinal", func(t *testing.T) {
		before := getSet(t, "web").Status.CurrentRevision
		from := log.mark()
		kubectl(t, c, "set", "env", "statefulset/web", "MODE=v2")
		rolloutStatus(t, "statefulset/web")
		var set *appsv1.StatefulSet
		eventually(t, 30*time.Second, func() error {
			set = getSet(t, "web")
			if set.Status.UpdateRevision == before || set.Status.CurrentRevision != set.Status.UpdateRevision || set.Status.UpdatedReplicas != 3 {
				return fmt.Errorf("after the update: %+v (before %s)", set.Status, before)
			}
			return nil
		})
		evs := log.since(from)
		// Old pods go from the highest ordinal down, each only once the one above is back and Ready.
		order := []int{}
		for i := 2; i >= 0; i-- {
			name := fmt.Sprintf("web-%d", i)
			order = append(order, firstPodEvent(evs, func(e podEvent) bool { return e.name == name && e.deleting && e.revision == before }))
		}
		for i := 1; i < 3; i++ {
			above := fmt.Sprintf("web-%d", 3-i)
			backReady := firstPodEvent(evs, func(e podEvent) bool { return e.name == above && e.ready && e.revision == set.Status.UpdateRevision })
			if order[i-1] < 0 || order[i] < 0 || order[i] < order[i-1] || backReady < 0 || order[i] < backReady {
				t.Fatalf("update order broken (deletions at %v, %s back ready at %d):\n%s", order, above, backReady, dumpPodLog(evs))
			}
		}
		out := kubectl(t, c, "rollout", "history", "statefulset/web")
		mustContain(t, out, "REVISION", "\n1 ", "\n2 ")

		kubectl(t, c, "rollout", "undo", "statefulset/web")
		rolloutStatus(t, "statefulset/web")
		// The first revision came back as revision 3, under its old name.
		eventually(t, 30*time.Second, func() error {
			set = getSet(t, "web")
			if set.Status.CurrentRevision != before || set.Status.UpdatedReplicas != 3 {
				return fmt.Errorf("after undo: %+v, want revision %s", set.Status, before)
			}
			return nil
		})
		for _, e := range set.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "MODE" {
				t.Fatalf("undo left env %v", set.Spec.Template.Spec.Containers[0].Env)
			}
		}
		cr, err := c.Client.AppsV1().ControllerRevisions("default").Get(ctx, before, metav1.GetOptions{})
		if err != nil || cr.Revision != 3 {
			t.Fatalf("revision %s after undo: %v %v", before, cr, err)
		}
		mustContain(t, kubectl(t, c, "rollout", "history", "statefulset/web"), "\n2 ", "\n3 ")
	})

	t.Run("ScaleDownFromHighestOrdinal", func(t *testing.T) {
		from := log.mark()
		kubectl(t, c, "scale", "statefulset/web", "--replicas=1")
		eventually(t, 90*time.Second, func() error {
			pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if len(pods.Items) != 1 || pods.Items[0].Name != "web-0" {
				return fmt.Errorf("%d pods", len(pods.Items))
			}
			return nil
		})
		evs := log.since(from)
		del2 := firstPodEvent(evs, func(e podEvent) bool { return e.name == "web-2" && e.deleting })
		gone2 := firstPodEvent(evs, func(e podEvent) bool { return e.name == "web-2" && e.typ == watch.Deleted })
		del1 := firstPodEvent(evs, func(e podEvent) bool { return e.name == "web-1" && e.deleting })
		if del2 < 0 || gone2 < 0 || del1 < 0 || del1 < gone2 {
			t.Fatalf("scale down order: web-2 deleting at %d, gone at %d, web-1 deleting at %d:\n%s", del2, gone2, del1, dumpPodLog(evs))
		}
		eventually(t, 30*time.Second, func() error {
			if st := getSet(t, "web").Status; st.Replicas != 1 || st.ReadyReplicas != 1 {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	})

	t.Run("Parallel", func(t *testing.T) {
		// Pods that never become Ready: Parallel creates them all anyway.
		manifest := strings.NewReplacer("  name: web\n", "  name: par\n", "serviceName: web\n", "serviceName: par\n  podManagementPolicy: Parallel\n",
			"app: web", "app: par", `["true"]`, `["false"]`).Replace(webSet)
		kubectlIn(t, c, manifest, "apply", "-f", "-")
		eventually(t, 60*time.Second, func() error {
			pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=par"})
			if len(pods.Items) != 3 {
				return fmt.Errorf("%d pods", len(pods.Items))
			}
			for _, p := range pods.Items {
				if workloadPodReady(&p) {
					return fmt.Errorf("%s is ready", p.Name)
				}
			}
			return nil
		})
	})
}

func workloadPodReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

const localDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: local
spec:
  selector: {matchLabels: {app: local}}
  template:
    metadata: {labels: {app: local}}
    spec:
      nodeSelector: {kubernetes.io/hostname: skiff-e2e}
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: docker.io/library/busybox:1.36
        imagePullPolicy: Never
        command: ["sleep", "3600"]
        readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
`

// TestDaemonSets: a DaemonSet for the agent's node runs its pod there (kubectl rollout status, a deleted pod
// replaced, a template change rolled out with a new ControllerRevision); nodes registered through the API
// get daemon pods bound by the scheduler when they match the nodeSelector (also nodes added later), none when
// they carry an untolerated NoSchedule taint, and lose them when they stop matching; a daemon pod that fits
// nowhere gives a FailedPlacement event.
func TestDaemonSets(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")}})
	cs := c.Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	apiNodes := []string{"api-1", "api-2", "api-tainted", "api-small"}
	isAPINode := map[string]bool{}
	for _, n := range apiNodes {
		isAPINode[n] = true
	}
	t.Cleanup(func() {
		// Before the framework removes the pods: no DaemonSet may recreate them, and pods bound to nodes
		// without a kubelet never finish a graceful deletion.
		bg := context.Background()
		_, _, _ = c.Kubectl(bg, "", "delete", "daemonsets", "--all", "--wait=false")
		zero := int64(0)
		for i := 0; i < 50; i++ {
			pods, err := cs.CoreV1().Pods("default").List(bg, metav1.ListOptions{})
			left := 0
			for _, p := range pods.Items {
				if isAPINode[p.Spec.NodeName] {
					left++
					_ = cs.CoreV1().Pods("default").Delete(bg, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				}
			}
			if err == nil && left == 0 && i > 3 {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	rolloutStatus := func(t *testing.T, what string) string {
		t.Helper()
		out, errOut, code := kubectlEnv(t, c, nil, "", "rollout", "status", what, "--timeout=120s")
		if code != 0 {
			t.Fatalf("rollout status %s: exit %d: %s %s", what, code, out, errOut)
		}
		return out
	}
	getDS := func(t *testing.T, name string) *appsv1.DaemonSet {
		t.Helper()
		ds, err := cs.AppsV1().DaemonSets("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	podsOf := func(t *testing.T, app string) []corev1.Pod {
		t.Helper()
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}

	t.Run("AgentNode", func(t *testing.T) {
		kubectlIn(t, c, localDaemonSet, "apply", "-f", "-")
		mustContain(t, rolloutStatus(t, "daemonset/local"), `daemon set "local" successfully rolled out`)
		pods := podsOf(t, "local")
		if len(pods) != 1 || pods[0].Spec.NodeName != "skiff-e2e" || !workloadPodReady(&pods[0]) {
			t.Fatalf("daemon pods %+v", pods)
		}
		p := pods[0]
		terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) != 1 || terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != "skiff-e2e" {
			t.Fatalf("daemon pod affinity %+v", terms)
		}
		tols := map[string]bool{}
		for _, tol := range p.Spec.Tolerations {
			tols[tol.Key+":"+string(tol.Effect)] = tol.TolerationSeconds == nil
		}
		for _, want := range []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
			"node.kubernetes.io/unschedulable:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule"} {
			if !tols[want] {
				t.Fatalf("daemon pod lacks toleration %s (without tolerationSeconds): %+v", want, p.Spec.Tolerations)
			}
		}
		ds := getDS(t, "local")
		st := ds.Status
		if st.DesiredNumberScheduled != 1 || st.CurrentNumberScheduled != 1 || st.NumberReady != 1 || st.NumberAvailable != 1 ||
			st.UpdatedNumberScheduled != 1 || st.NumberMisscheduled != 0 || st.ObservedGeneration != ds.Generation {
			t.Fatalf("status %+v", st)
		}
		hash := p.Labels[appsv1.ControllerRevisionHashLabelKey]
		cr, err := cs.AppsV1().ControllerRevisions("default").Get(ctx, "local-"+hash, metav1.GetOptions{})
		if err != nil || cr.Revision != 1 || !metav1.IsControlledBy(cr, ds) {
			t.Fatalf("revision local-%s: %v %v", hash, cr, err)
		}
		mustContain(t, kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=local"), "SuccessfulCreate", "Created pod: local-")

		// A deleted daemon pod is replaced.
		kubectl(t, c, "delete", "pod", p.Name, "--wait=false")
		eventually(t, 60*time.Second, func() error {
			pods := podsOf(t, "local")
			if len(pods) != 1 || pods[0].UID == p.UID || !workloadPodReady(&pods[0]) {
				return fmt.Errorf("%d pods, not yet replaced", len(pods))
			}
			return nil
		})

		// A template change rolls out under a new revision.
		kubectl(t, c, "set", "env", "daemonset/local", "MODE=v2")
		rolloutStatus(t, "daemonset/local")
		pods = podsOf(t, "local")
		if len(pods) != 1 || pods[0].Labels[appsv1.ControllerRevisionHashLabelKey] == hash {
			t.Fatalf("after the update: %d pods, hash %s (was %s)", len(pods), pods[0].Labels[appsv1.ControllerRevisionHashLabelKey], hash)
		}
		mustContain(t, kubectl(t, c, "rollout", "history", "daemonset/local"), "REVISION", "\n1 ", "\n2 ")
	})

	// Nodes without a kubelet, their Leases renewed so they stay Ready.
	for _, n := range apiNodes {
		registerNode(t, cs, n)
	}
	go renewLeases(ctx, cs, func(string) bool { return true }, apiNodes...)
	kubectl(t, c, "label", "node", "api-1", "api-tainted", "daemon=yes")
	kubectl(t, c, "taint", "node", "api-tainted", "dedicated=x:NoSchedule")

	t.Run("NodeSelectionAndTaints", func(t *testing.T) {
		manifest := strings.NewReplacer("name: local", "name: sel", "app: local", "app: sel",
			"kubernetes.io/hostname: skiff-e2e", "daemon: \"yes\"").Replace(localDaemonSet)
		kubectlIn(t, c, manifest, "apply", "-f", "-")
		onNodes := func(want ...string) {
			t.Helper()
			eventually(t, 30*time.Second, func() error {
				var got []string
				for _, p := range podsOf(t, "sel") {
					if p.DeletionTimestamp != nil {
						continue
					}
					if p.Spec.NodeName == "" {
						return fmt.Errorf("pod %s not bound yet", p.Name)
					}
					got = append(got, p.Spec.NodeName)
				}
				slices.Sort(got)
				if strings.Join(got, ",") != strings.Join(want, ",") {
					return fmt.Errorf("daemon pods on %v, want %v", got, want)
				}
				ds := getDS(t, "sel")
				if int(ds.Status.DesiredNumberScheduled) != len(want) || int(ds.Status.CurrentNumberScheduled) != len(want) {
					return fmt.Errorf("status %+v", ds.Status)
				}
				return nil
			})
		}
		// api-1 matches; api-tainted matches but its NoSchedule taint is not tolerated; skiff-e2e does not match.
		onNodes("api-1")
		// A node that starts matching gets its pod.
		kubectl(t, c, "label", "node", "api-2", "daemon=yes")
		onNodes("api-1", "api-2")
		// A node that stops matching loses it (it has no kubelet: finish the graceful deletion by hand).
		kubectl(t, c, "label", "node", "api-1", "daemon-")
		eventually(t, 30*time.Second, func() error {
			for _, p := range podsOf(t, "sel") {
				if p.Spec.NodeName == "api-1" && p.DeletionTimestamp == nil {
					return fmt.Errorf("pod %s on api-1 not deleted", p.Name)
				}
			}
			return nil
		})
		mustContain(t, kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=sel"), "SuccessfulDelete", "Deleted pod: sel-")
		zero := int64(0)
		for _, p := range podsOf(t, "sel") {
			if p.Spec.NodeName == "api-1" {
				_ = cs.CoreV1().Pods("default").Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			}
		}
		onNodes("api-2")
		eventually(t, 30*time.Second, func() error {
			if st := getDS(t, "sel").Status; st.NumberReady != 0 || st.NumberMisscheduled != 0 || st.DesiredNumberScheduled != 1 {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	})

	t.Run("FailedPlacement", func(t *testing.T) {
		// api-small matches but has 4 CPUs; the pod asks for 5: the scheduler cannot place it there.
		kubectl(t, c, "label", "node", "api-small", "size=small")
		manifest := strings.NewReplacer("name: local", "name: big", "app: local", "app: big",
			"kubernetes.io/hostname: skiff-e2e", "size: small",
			"        imagePullPolicy: Never\n", "        imagePullPolicy: Never\n        resources: {requests: {cpu: \"5\"}}\n").Replace(localDaemonSet)
		kubectlIn(t, c, manifest, "apply", "-f", "-")
		eventually(t, 30*time.Second, func() error {
			out := kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=big")
			if !strings.Contains(out, `failed to place pod on "api-small"`) {
				return fmt.Errorf("no FailedPlacement event: %s", out)
			}
			return nil
		})
	})
}
