package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"skiff/test/e2e/framework"
)

// nodeClient returns a client with a node's credentials: system:node:<name> in group system:nodes.
func nodeClient(t *testing.T, c *framework.Cluster, name string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", userKubeconfig(t, c, "system:node:"+name, "system:nodes"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// wantForbidden fails unless err is a 403 whose message contains want.
func wantForbidden(t *testing.T, err error, want string) {
	t.Helper()
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want 403 with %q", err, want)
	}
}

// TestNodeAuthorization: a node's credentials reach its own Node and the secrets of pods bound to it, not
// another node's (Node authorizer), and write only its own Node and pods (NodeRestriction admission).
func TestNodeAuthorization(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	admin := c.Client
	for _, n := range []string{"n1", "n2"} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"kubernetes.io/hostname": n}}}
		if _, err := admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []string{"n1", "n2"} {
		s := fmt.Sprintf("s%d", i+1)
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s}, StringData: map[string]string{"k": "v"}}
		if _, err := admin.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i+1)}, Spec: corev1.PodSpec{NodeName: n,
			Containers: []corev1.Container{{Name: "c", Image: "pause"}},
			Volumes:    []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: s}}}}}}
		// The namespace's "default" ServiceAccount comes from a controller a moment after start.
		eventually(t, 30*time.Second, func() error {
			_, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		})
	}
	n1 := nodeClient(t, c, "n1")

	t.Run("secrets", func(t *testing.T) {
		// The authorizer learns of pods through an informer: wait for the first relationship.
		eventually(t, 20*time.Second, func() error {
			_, err := n1.CoreV1().Secrets("default").Get(ctx, "s1", metav1.GetOptions{})
			return err
		})
		_, err := n1.CoreV1().Secrets("default").Get(ctx, "s2", metav1.GetOptions{})
		wantForbidden(t, err, `secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'n1' and this object`)
		_, err = n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
		wantForbidden(t, err, `cannot list resource "secrets"`)
		// A single-object list or watch (client-go's by-name informer) is about that object, as upstream.
		one := metav1.ListOptions{FieldSelector: "metadata.name=s1"}
		if l, err := n1.CoreV1().Secrets("default").List(ctx, one); err != nil || len(l.Items) != 1 {
			t.Fatalf("list of s1 by name: %v", err)
		}
		w, err := n1.CoreV1().Secrets("default").Watch(ctx, one)
		if err != nil {
			t.Fatalf("watch of s1 by name: %v", err)
		}
		w.Stop()
		_, err = n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=s2"})
		wantForbidden(t, err, `no relationship found between node 'n1' and this object`)
	})

	t.Run("nodes", func(t *testing.T) {
		if _, err := n1.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := n1.CoreV1().Nodes().Get(ctx, "n2", metav1.GetOptions{})
		wantForbidden(t, err, `node 'n1' cannot read 'n2', only its own Node object`)
		n2, err := admin.CoreV1().Nodes().Get(ctx, "n2", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n2.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		_, err = n1.CoreV1().Nodes().UpdateStatus(ctx, n2, metav1.UpdateOptions{})
		wantForbidden(t, err, `nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`)
		_, err = n1.CoreV1().Nodes().Update(ctx, n2, metav1.UpdateOptions{})
		wantForbidden(t, err, `node "n1" is not allowed to modify node "n2"`)

		own, err := n1.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		own.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		if _, err := n1.CoreV1().Nodes().UpdateStatus(ctx, own, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("own node status: %v", err)
		}
	})

	t.Run("labels", func(t *testing.T) {
		relabel := func(key, value string) error {
			own, err := n1.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			own.Labels[key] = value
			_, err = n1.CoreV1().Nodes().Update(ctx, own, metav1.UpdateOptions{})
			return err
		}
		for _, ok := range []string{"example.com/rack", "topology.kubernetes.io/zone", "node.kubernetes.io/pool"} {
			if err := relabel(ok, "a"); err != nil {
				t.Fatalf("label %s: %v", ok, err)
			}
		}
		wantForbidden(t, relabel("node-role.kubernetes.io/control-plane", ""),
			`nodes "n1" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/control-plane`)
		wantForbidden(t, relabel("node-restriction.kubernetes.io/pci", "yes"),
			`is not allowed to modify labels: node-restriction.kubernetes.io/pci`)
		// Unchanged restricted labels are no change.
		if err := relabel("kubernetes.io/hostname", "n1"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("taints", func(t *testing.T) {
		own, err := n1.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		own.Spec.Taints = append(own.Spec.Taints, corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule})
		_, err = n1.CoreV1().Nodes().Update(ctx, own, metav1.UpdateOptions{})
		wantForbidden(t, err, `node "n1" is not allowed to modify taints`)
	})

	t.Run("pods", func(t *testing.T) {
		// As upstream's AuthorizeNodeWithSelectors: a node lists and watches only its own pods, and gets only those.
		_, err := n1.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		wantForbidden(t, err, `can only list/watch pods with spec.nodeName field selector`)
		_, err = n1.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n2"})
		wantForbidden(t, err, `can only list/watch pods with spec.nodeName field selector`)
		own, err := n1.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
		if err != nil || len(own.Items) != 1 || own.Items[0].Name != "p1" {
			t.Fatalf("own pods: %v %v", err, own)
		}
		_, err = n1.CoreV1().Pods("default").Get(ctx, "p2", metav1.GetOptions{})
		wantForbidden(t, err, `no relationship found between node 'n1' and this object`)
		for _, name := range []string{"p1", "p2"} {
			var pod *corev1.Pod
			if name == "p1" {
				pod, err = n1.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			} else {
				pod, err = admin.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			pod.Status.Phase = corev1.PodRunning
			_, err = n1.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			if name == "p1" && err != nil {
				t.Fatalf("own pod status: %v", err)
			}
			if name == "p2" {
				wantForbidden(t, err, `pods "p2" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself`)
			}
		}
		err = n1.CoreV1().Pods("default").Delete(ctx, "p2", metav1.DeleteOptions{})
		wantForbidden(t, err, `node "n1" can only delete pods with spec.nodeName set to itself`)
		err = n1.CoreV1().Pods("default").EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "p2", Namespace: "default"}})
		wantForbidden(t, err, `node n1 can only evict pods with spec.nodeName set to itself`)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sneaky"}, Spec: corev1.PodSpec{NodeName: "n1",
			Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}
		_, err = n1.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		wantForbidden(t, err, `node "n1" can only create mirror pods`)
	})

	t.Run("tokens and leases", func(t *testing.T) {
		p2, err := admin.CoreV1().Pods("default").Get(ctx, "p2", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// n1 runs a pod as "default", so it may ask for its tokens, but only bound to its own pods.
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{
			APIVersion: "v1", Kind: "Pod", Name: "p2", UID: p2.UID}}}
		_, err = n1.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", tr, metav1.CreateOptions{})
		wantForbidden(t, err, `node requested token bound to a pod scheduled on a different node`)
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("n2")}}
		_, err = n1.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease, metav1.CreateOptions{})
		wantForbidden(t, err, `can only access node lease with the same name as the requesting node`)
		lease.Name, lease.Spec.HolderIdentity = "n1", ptr.To("n1")
		if _, err := n1.CoordinationV1().Leases("kube-node-lease").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			t.Fatalf("own lease: %v", err)
		}
	})

	t.Run("relationship ends with the pod", func(t *testing.T) {
		if err := admin.CoreV1().Pods("default").Delete(ctx, "p1", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, func() error {
			_, err := n1.CoreV1().Secrets("default").Get(ctx, "s1", metav1.GetOptions{})
			if !apierrors.IsForbidden(err) {
				return fmt.Errorf("s1 still readable after its pod went: %v", err)
			}
			return nil
		})
	})
}

// TestNodeAgentIdentity: the server's node agent speaks as system:node:<name> (group system:nodes), and under
// the Node authorizer and NodeRestriction still runs a pod with a secret volume, configmap env and projected
// token, reports its status and removes it. The audit log shows its requests: none is refused but for a
// relationship the authorizer had not seen yet (the pod's binding reaches it and the agent concurrently) that
// a later request for the same object got.
func TestNodeAgentIdentity(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	dir := t.TempDir()
	policy, logPath := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "audit.log")
	const nodesOnly = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n" +
		"  - level: Metadata\n    userGroups: [\"system:nodes\"]\n  - level: None\n"
	if err := os.WriteFile(policy, []byte(nodesOnly), 0o600); err != nil {
		t.Fatal(err)
	}
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")},
		ExtraArgs: []string{"--audit-policy-file", policy, "--audit-log-path", logPath}})
	ctx := context.Background()
	admin := c.Client
	if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "agent-s"},
		StringData: map[string]string{"k": "secret-value"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "agent-c"},
		Data: map[string]string{"K": "config-value"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "agent-id"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "docker.io/library/busybox:1.36", ImagePullPolicy: corev1.PullNever,
			Command:      []string{"sh", "-c", "cat /s/k /var/run/secrets/kubernetes.io/serviceaccount/token >/dev/null && echo $K && sleep 3600"},
			EnvFrom:      []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "agent-c"}}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/s"}}}},
		Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "agent-s"}}}}}}
	eventually(t, 30*time.Second, func() error {
		_, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	eventually(t, 90*time.Second, func() error {
		p, err := admin.CoreV1().Pods("default").Get(ctx, "agent-id", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %q: %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		return nil
	})
	mustContain(t, kubectl(t, c, "logs", "agent-id"), "config-value")
	if err := admin.CoreV1().Pods("default").Delete(ctx, "agent-id", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(1))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		_, err := admin.CoreV1().Pods("default").Get(ctx, "agent-id", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod still there: %v", err)
		}
		return nil
	})

	events := readAudit(t, logPath)
	seen, ok := map[string]bool{}, map[string]bool{}
	var refused []auditEvent
	for _, ev := range events {
		if ev.Stage != "ResponseComplete" || ev.ResponseStatus == nil {
			continue
		}
		if ev.User.Username != "system:node:skiff-e2e" {
			t.Fatalf("audit event of a node user other than the agent: %s", ev.line)
		}
		seen[ev.Verb] = true
		if ev.ResponseStatus.Code == 403 {
			refused = append(refused, ev)
		} else if ev.ResponseStatus.Code < 300 && ev.ObjectRef != nil {
			ok[ev.ObjectRef.Resource+"/"+ev.ObjectRef.Namespace+"/"+ev.ObjectRef.Name] = true
		}
	}
	for _, v := range []string{"create", "update", "get", "delete"} {
		if !seen[v] {
			t.Errorf("no %s by the agent in the audit log (saw %v)", v, seen)
		}
	}
	for _, ev := range refused {
		r := ev.ObjectRef
		if r == nil || !strings.Contains(ev.ResponseStatus.Message, "no relationship found") || !ok[r.Resource+"/"+r.Namespace+"/"+r.Name] {
			t.Errorf("the agent was refused: %s", ev.line)
		}
	}
}
