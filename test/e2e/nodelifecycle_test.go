package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/test/e2e/framework"
)

// registerNode creates a Ready node through the API, as a kubelet registers, with its Lease in kube-node-lease.
func registerNode(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	now := metav1.Now()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: rl, Allocatable: rl, Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"),
		}}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	renew := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: new(int32(40)), RenewTime: &renew}}
	if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// renewLeases renews the named nodes' Leases every 500 ms, as their kubelets would, while renewing(name) says so.
func renewLeases(ctx context.Context, cs kubernetes.Interface, renewing func(string) bool, names ...string) {
	for ctx.Err() == nil {
		for _, n := range names {
			if !renewing(n) {
				continue
			}
			leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
			if l, err := leases.Get(ctx, n, metav1.GetOptions{}); err == nil {
				now := metav1.NewMicroTime(time.Now())
				l.Spec.RenewTime = &now
				_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func nodeTaint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].Key == key && n.Spec.Taints[i].Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// TestNodeLifecycle: a node whose Lease stops being renewed turns Unknown after --node-monitor-grace-period,
// is tainted unreachable (NoSchedule and NoExecute), its pods turn NotReady, and the taint eviction controller
// deletes a pod tolerating the taint for 3 s after those 3 s while one with the default 300 s
// (DefaultTolerationSeconds admission) stays. A second node keeps renewing: with every node down the controller
// would not taint NoExecute at all (upstream's full-disruption mode). Cordon and uncordon add and remove the
// unschedulable taint; a node that reports again loses its unreachable taints.
func TestNodeLifecycle(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--node-monitor-grace-period=5s"}})
	cs := c.Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	registerNode(t, cs, "healthy")
	registerNode(t, cs, "lost")
	var lostRenewing atomic.Bool
	lostRenewing.Store(true)
	go renewLeases(ctx, cs, func(n string) bool { return n != "lost" || lostRenewing.Load() }, "healthy", "lost")

	kubectl(t, c, "create", "namespace", "nl")
	pods := cs.CoreV1().Pods("nl")
	mk := func(name string, tols ...corev1.Toleration) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: "lost", Tolerations: tols,
			Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
		created, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	short := mk("short", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(3))})
	def := mk("default")
	// Admission added 300 s tolerations for both taints to "default", and only the not-ready one to "short".
	tolSeconds := func(p *corev1.Pod) string {
		var out []string
		for _, tol := range p.Spec.Tolerations {
			s := "forever"
			if tol.TolerationSeconds != nil {
				s = fmt.Sprint(*tol.TolerationSeconds)
			}
			out = append(out, fmt.Sprintf("%s:%s:%s:%s", tol.Key, tol.Operator, tol.Effect, s))
		}
		return strings.Join(out, ",")
	}
	if got := tolSeconds(def); got != "node.kubernetes.io/not-ready:Exists:NoExecute:300,node.kubernetes.io/unreachable:Exists:NoExecute:300" {
		t.Fatalf("default tolerations: %s", got)
	}
	if got := tolSeconds(short); got != "node.kubernetes.io/unreachable:Exists:NoExecute:3,node.kubernetes.io/not-ready:Exists:NoExecute:300" {
		t.Fatalf("short tolerations: %s", got)
	}
	// The pods run and are Ready, as their kubelet would report.
	for _, p := range []*corev1.Pod{short, def} {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// A ReplicaSet's pod placed on "lost" (the other node cordoned meanwhile) is replaced elsewhere once the
	// taint evicts it.
	kubectl(t, c, "cordon", "healthy")
	one := int32(1)
	rsLabels := map[string]string{"app": "moved"}
	if _, err := cs.AppsV1().ReplicaSets("nl").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "moved"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: rsLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: rsLabels}, Spec: corev1.PodSpec{
				Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
					Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(2))}},
				Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var firstMoved string
	eventually(t, 20*time.Second, func() error {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=moved"})
		if err != nil || len(list.Items) != 1 || list.Items[0].Spec.NodeName != "lost" {
			return fmt.Errorf("replicaset pod not on lost yet: %v", err)
		}
		firstMoved = list.Items[0].Name
		return nil
	})
	kubectl(t, c, "uncordon", "healthy")
	eventually(t, 20*time.Second, func() error {
		h, err := cs.CoreV1().Nodes().Get(ctx, "healthy", metav1.GetOptions{})
		if err != nil || len(h.Spec.Taints) != 0 {
			return fmt.Errorf("healthy still tainted: %v", err)
		}
		return nil
	})

	// Heartbeats keep the node Ready beyond the grace period.
	time.Sleep(7 * time.Second)
	n, err := cs.CoreV1().Nodes().Get(ctx, "lost", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
			t.Fatalf("node with a renewed Lease is %s: %+v", cond.Status, cond)
		}
	}
	if len(n.Spec.Taints) != 0 {
		t.Fatalf("healthy node tainted: %+v", n.Spec.Taints)
	}

	lostRenewing.Store(false)
	stopped := time.Now()
	eventually(t, 30*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "lost", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			switch cond.Type {
			case corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
				if cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown" || cond.Message != "Kubelet stopped posting node status." {
					return fmt.Errorf("condition %s: %s %s %q", cond.Type, cond.Status, cond.Reason, cond.Message)
				}
			}
		}
		return nil
	})
	if d := time.Since(stopped); d < 4*time.Second {
		t.Fatalf("node Unknown %v after its last heartbeat, before the 5 s grace period", d)
	}
	var noExecuteAdded time.Time
	eventually(t, 30*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "lost", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ns := nodeTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)
		ne := nodeTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
		if ns == nil || ne == nil || ne.TimeAdded == nil {
			return fmt.Errorf("taints %+v", n.Spec.Taints)
		}
		noExecuteAdded = ne.TimeAdded.Time
		return nil
	})
	mustContain(t, kubectl(t, c, "describe", "node", "lost"), "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule", "NodeStatusUnknown")
	if h, _ := cs.CoreV1().Nodes().Get(ctx, "healthy", metav1.GetOptions{}); len(h.Spec.Taints) != 0 {
		t.Fatalf("the renewing node got taints: %+v", h.Spec.Taints)
	}

	// Both pods are NotReady.
	eventually(t, 20*time.Second, func() error {
		for _, name := range []string{"short", "default"} {
			p, err := pods.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if r := podCondition(p, corev1.PodReady); r == nil || r.Status != corev1.ConditionFalse {
				return fmt.Errorf("pod %s Ready: %+v", name, r)
			}
		}
		return nil
	})

	// "short" is deleted (gracefully: no kubelet finishes it) about 3 s after the NoExecute taint.
	var deleting time.Time
	eventually(t, 30*time.Second, func() error {
		p, err := pods.Get(ctx, "short", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.DeletionTimestamp == nil {
			return fmt.Errorf("pod short not deleted")
		}
		deleting = time.Now()
		if d := podCondition(p, corev1.DisruptionTarget); d == nil || d.Status != corev1.ConditionTrue || d.Reason != "DeletionByTaintManager" {
			return fmt.Errorf("pod short DisruptionTarget: %+v", d)
		}
		return nil
	})
	// The taint's timeAdded is stamped by the server's clock, as this test's: same machine.
	if d := deleting.Sub(noExecuteAdded); d < 2500*time.Millisecond {
		t.Fatalf("pod tolerating 3 s deleted %v after the taint", d)
	}
	eventually(t, 20*time.Second, func() error {
		out := kubectl(t, c, "get", "events", "-n", "nl", "--field-selector", "involvedObject.name=short")
		if !strings.Contains(out, "TaintManagerEviction") || !strings.Contains(out, "Marking for deletion Pod nl/short") {
			return fmt.Errorf("events:\n%s", out)
		}
		return nil
	})
	// The ReplicaSet made a replacement, which the scheduler put on the healthy node.
	eventually(t, 30*time.Second, func() error {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=moved"})
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if p.Name != firstMoved && p.DeletionTimestamp == nil && p.Spec.NodeName == "healthy" {
				return nil
			}
		}
		return fmt.Errorf("no replacement on healthy: %d pods", len(list.Items))
	})
	time.Sleep(2 * time.Second)
	if p, err := pods.Get(ctx, "default", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Fatalf("pod tolerating 300 s was deleted: %v %v", err, p.DeletionTimestamp)
	}

	// Cordon and uncordon.
	kubectl(t, c, "cordon", "healthy")
	eventually(t, 20*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "healthy", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if nodeTaint(n, corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule) == nil {
			return fmt.Errorf("taints %+v", n.Spec.Taints)
		}
		return nil
	})
	kubectl(t, c, "uncordon", "healthy")
	eventually(t, 20*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "healthy", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(n.Spec.Taints) != 0 {
			return fmt.Errorf("taints %+v", n.Spec.Taints)
		}
		return nil
	})

	// The lost node reports again: Ready, and the unreachable taints go.
	lostRenewing.Store(true)
	n, err = cs.CoreV1().Nodes().Get(ctx, "lost", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	for i := range n.Status.Conditions {
		cond := &n.Status.Conditions[i]
		cond.LastHeartbeatTime, cond.LastTransitionTime = now, now
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, "Kubelet", ""
		if cond.Type == corev1.NodeReady {
			cond.Status, cond.Reason = corev1.ConditionTrue, "KubeletReady"
		}
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "lost", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(n.Spec.Taints) != 0 {
			return fmt.Errorf("taints %+v", n.Spec.Taints)
		}
		return nil
	})
	mustContain(t, kubectl(t, c, "get", "events", "-n", "default", "--field-selector", "involvedObject.name=lost"), "NodeNotReady", "RegisteredNode")
}

// TestNodeLifecycleTolerationFlags: --default-unreachable-toleration-seconds and
// --default-not-ready-toleration-seconds set the admission plugin's tolerationSeconds.
func TestNodeLifecycleTolerationFlags(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--default-not-ready-toleration-seconds=30",
		"--default-unreachable-toleration-seconds=0", "--disable-scheduler"}})
	p, err := c.Client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Tolerations) != 2 || *p.Spec.Tolerations[0].TolerationSeconds != 30 || *p.Spec.Tolerations[1].TolerationSeconds != 0 {
		t.Fatalf("tolerations %+v", p.Spec.Tolerations)
	}
}
