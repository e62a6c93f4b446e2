package nodelifecycle

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Step(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	c        *Controller
	clock    *clock
	recorder *record.FakeRecorder
}

const grace = 40 * time.Second

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := &clock{t: t0}
	rec := record.NewFakeRecorder(1000)
	c, err := newController(client, factory, rec, Options{NodeMonitorGracePeriod: grace, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("informers did not sync")
	}
	return &fixture{t: t, ctx: ctx, client: client, c: c, clock: clk, recorder: rec}
}

func (f *fixture) createNode(name string, conds ...corev1.NodeCondition) {
	f.t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-" + "name", CreationTimestamp: metav1.NewTime(f.clock.Now())},
		Status: corev1.NodeStatus{Conditions: conds}}
	if _, err := f.client.CoreV1().Nodes().Create(f.ctx, n, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.waitNode(name, func(*corev1.Node) error { return nil })
}

func (f *fixture) renewLease(name string) {
	f.t.Helper()
	now := metav1.NewMicroTime(f.clock.Now())
	leases := f.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	l, err := leases.Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, RenewTime: &now}}
		if _, err := leases.Create(f.ctx, l, metav1.CreateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	} else {
		l.Spec.RenewTime = &now
		if _, err := leases.Update(f.ctx, l, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	eventually(f.t, func() error {
		got, err := f.c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(name)
		if err != nil {
			return err
		}
		if !got.Spec.RenewTime.Equal(&now) {
			return fmt.Errorf("lease not seen yet")
		}
		return nil
	})
}

// waitNode waits until the lister's copy of the node passes check.
func (f *fixture) waitNode(name string, check func(*corev1.Node) error) *corev1.Node {
	f.t.Helper()
	var n *corev1.Node
	eventually(f.t, func() error {
		var err error
		if n, err = f.c.nodeLister.Get(name); err != nil {
			return err
		}
		return check(n)
	})
	return n
}

func (f *fixture) monitor() {
	f.t.Helper()
	if err := f.c.monitorNodeHealth(f.ctx); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) noSchedulePass(name string) {
	f.t.Helper()
	if err := f.c.doNoScheduleTaintingPass(f.ctx, name); err != nil {
		f.t.Fatal(err)
	}
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal(err)
}

func readyTrue() corev1.NodeCondition {
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.NewTime(t0), LastTransitionTime: metav1.NewTime(t0)}
}

func condStatus(n *corev1.Node, t corev1.NodeConditionType) (corev1.ConditionStatus, string) {
	if _, c := condition(&n.Status, t); c != nil {
		return c.Status, c.Reason
	}
	return "", ""
}

func taintKeys(n *corev1.Node) string {
	var out []string
	for _, t := range n.Spec.Taints {
		out = append(out, t.Key+":"+string(t.Effect))
	}
	return strings.Join(out, ",")
}

func TestNodeWithoutHeartbeatGoesUnknown(t *testing.T) {
	f := newFixture(t)
	f.createNode("lost", readyTrue(), corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse})
	f.createNode("alive", readyTrue())
	f.renewLease("lost")
	f.renewLease("alive")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "lost"},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, Reason: "r"}}}}
	if _, err := f.client.CoreV1().Pods("ns").Create(f.ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { _, err := f.c.podLister.Pods("ns").Get("p"); return err })
	f.monitor()

	// Within the grace period nothing happens; the live node keeps renewing.
	f.clock.Step(grace - time.Second)
	f.renewLease("alive")
	f.monitor()
	if s, _ := condStatus(f.waitNode("lost", func(*corev1.Node) error { return nil }), corev1.NodeReady); s != corev1.ConditionTrue {
		t.Fatalf("Ready = %s within the grace period", s)
	}

	f.clock.Step(2 * time.Second)
	f.renewLease("alive")
	f.monitor()
	n := f.waitNode("lost", func(n *corev1.Node) error {
		if s, r := condStatus(n, corev1.NodeReady); s != corev1.ConditionUnknown || r != reasonStatusUnknown {
			return fmt.Errorf("Ready %s %s", s, r)
		}
		return nil
	})
	_, ready := condition(&n.Status, corev1.NodeReady)
	if ready.Message != messageStatusUnknown || !ready.LastHeartbeatTime.Equal(&metav1.Time{Time: t0}) {
		t.Errorf("Ready condition %+v", ready)
	}
	// Pressure conditions go Unknown too; missing ones are added as never updated.
	if s, r := condStatus(n, corev1.NodeMemoryPressure); s != corev1.ConditionUnknown || r != reasonStatusUnknown {
		t.Errorf("MemoryPressure %s %s", s, r)
	}
	if s, r := condStatus(n, corev1.NodeDiskPressure); s != corev1.ConditionUnknown || r != reasonStatusNeverUpdated {
		t.Errorf("DiskPressure %s %s", s, r)
	}
	if s, _ := condStatus(f.waitNode("alive", func(*corev1.Node) error { return nil }), corev1.NodeReady); s != corev1.ConditionTrue {
		t.Errorf("alive node Ready = %s", s)
	}
	// The pod's Ready condition is False now, its reason kept.
	p, err := f.client.CoreV1().Pods("ns").Get(f.ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Status.Conditions[0]; c.Status != corev1.ConditionFalse || c.Reason != "r" {
		t.Errorf("pod Ready %+v", c)
	}
	wantEvents(t, f.recorder, "Normal NodeNotReady Node lost status is now: NodeNotReady", "Warning NodeNotReady Node is not ready")

	// NoSchedule unreachable at once; NoExecute on the next pass (it observes Unknown) through the queue.
	f.noSchedulePass("lost")
	f.waitNode("lost", func(n *corev1.Node) error {
		if taintKeys(n) != "node.kubernetes.io/unreachable:NoSchedule" {
			return fmt.Errorf("taints %s", taintKeys(n))
		}
		return nil
	})
	f.clock.Step(time.Second)
	f.renewLease("alive")
	f.monitor()
	f.c.doNoExecuteTaintingPass(f.ctx)
	n = f.waitNode("lost", func(n *corev1.Node) error {
		if taintKeys(n) != "node.kubernetes.io/unreachable:NoSchedule,node.kubernetes.io/unreachable:NoExecute" {
			return fmt.Errorf("taints %s", taintKeys(n))
		}
		return nil
	})
	for _, taint := range n.Spec.Taints {
		if taint.TimeAdded == nil {
			t.Errorf("taint %v has no timeAdded", taint)
		}
	}

	// The kubelet comes back: Ready True again clears both taints.
	n = n.DeepCopy()
	_, ready = condition(&n.Status, corev1.NodeReady)
	ready.Status, ready.Reason, ready.LastHeartbeatTime = corev1.ConditionTrue, "KubeletReady", metav1.NewTime(f.clock.Now())
	if _, err := f.client.CoreV1().Nodes().UpdateStatus(f.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitNode("lost", func(n *corev1.Node) error {
		if s, _ := condStatus(n, corev1.NodeReady); s != corev1.ConditionTrue {
			return fmt.Errorf("not ready yet")
		}
		return nil
	})
	f.monitor()
	// (The fake clientset has no optimistic concurrency: let the lister catch up before the next write.)
	f.waitNode("lost", func(n *corev1.Node) error {
		if hasTaint(n.Spec.Taints, unreachableNoExecute) {
			return fmt.Errorf("taints %s", taintKeys(n))
		}
		return nil
	})
	f.noSchedulePass("lost")
	f.waitNode("lost", func(n *corev1.Node) error {
		if len(n.Spec.Taints) != 0 {
			return fmt.Errorf("taints %s", taintKeys(n))
		}
		return nil
	})
}

func wantEvents(t *testing.T, rec *record.FakeRecorder, want ...string) {
	t.Helper()
	var got []string
	deadline := time.After(5 * time.Second)
	for _, w := range want {
		for found := false; !found; {
			select {
			case e := <-rec.Events:
				got = append(got, e)
				found = e == w
			case <-deadline:
				t.Fatalf("event %q not recorded; got %q", w, got)
			}
		}
	}
}

func TestAllNodesDownIsMasterDisruption(t *testing.T) {
	f := newFixture(t)
	f.createNode("only", readyTrue())
	f.renewLease("only")
	f.monitor()
	f.clock.Step(grace + time.Second)
	f.monitor()
	f.waitNode("only", func(n *corev1.Node) error {
		if s, _ := condStatus(n, corev1.NodeReady); s != corev1.ConditionUnknown {
			return fmt.Errorf("Ready %s", s)
		}
		return nil
	})
	f.clock.Step(time.Second)
	f.monitor()
	f.c.doNoExecuteTaintingPass(f.ctx)
	time.Sleep(100 * time.Millisecond)
	n, err := f.client.CoreV1().Nodes().Get(f.ctx, "only", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hasTaint(n.Spec.Taints, unreachableNoExecute) {
		t.Fatalf("the only node got a NoExecute taint although every zone is disrupted: %s", taintKeys(n))
	}
}

func TestNodeWithoutReadyConditionUsesCreationTime(t *testing.T) {
	f := newFixture(t)
	f.createNode("new")
	f.createNode("alive", readyTrue())
	f.renewLease("alive")
	f.monitor()
	f.clock.Step(grace + time.Second)
	f.renewLease("alive")
	f.monitor()
	f.waitNode("new", func(n *corev1.Node) error {
		if s, r := condStatus(n, corev1.NodeReady); s != corev1.ConditionUnknown || r != reasonStatusNeverUpdated {
			return fmt.Errorf("Ready %s %s", s, r)
		}
		return nil
	})
}

func TestUnschedulableAndPressureTaints(t *testing.T) {
	f := newFixture(t)
	f.createNode("n", readyTrue(), corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue})
	f.noSchedulePass("n")
	f.waitNode("n", func(n *corev1.Node) error {
		if taintKeys(n) != "node.kubernetes.io/disk-pressure:NoSchedule" {
			return fmt.Errorf("taints %s", taintKeys(n))
		}
		return nil
	})
	n, _ := f.client.CoreV1().Nodes().Get(f.ctx, "n", metav1.GetOptions{})
	n.Spec.Unschedulable = true
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "user", Effect: corev1.TaintEffectNoSchedule})
	if _, err := f.client.CoreV1().Nodes().Update(f.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitNode("n", func(n *corev1.Node) error {
		if !n.Spec.Unschedulable {
			return fmt.Errorf("not seen")
		}
		return nil
	})
	f.noSchedulePass("n")
	f.waitNode("n", func(n *corev1.Node) error {
		if taintKeys(n) != "node.kubernetes.io/disk-pressure:NoSchedule,user:NoSchedule,node.kubernetes.io/unschedulable:NoSchedule" {
			return fmt.Errorf("taints %s", taintKeys(n))
		}
		return nil
	})
	n, _ = f.client.CoreV1().Nodes().Get(f.ctx, "n", metav1.GetOptions{})
	n.Spec.Unschedulable = false
	if _, err := f.client.CoreV1().Nodes().Update(f.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions[1].Status = corev1.ConditionFalse
	if _, err := f.client.CoreV1().Nodes().UpdateStatus(f.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitNode("n", func(n *corev1.Node) error {
		if n.Spec.Unschedulable || n.Status.Conditions[1].Status != corev1.ConditionFalse {
			return fmt.Errorf("not seen")
		}
		return nil
	})
	f.noSchedulePass("n")
	f.waitNode("n", func(n *corev1.Node) error {
		if taintKeys(n) != "user:NoSchedule" {
			return fmt.Errorf("taints %s", taintKeys(n))
		}
		return nil
	})
}

func TestZoneStates(t *testing.T) {
	c := &Controller{opts: Options{}}
	c.opts.defaults()
	r := &corev1.NodeCondition{Status: corev1.ConditionTrue}
	u := &corev1.NodeCondition{Status: corev1.ConditionUnknown}
	for _, tc := range []struct {
		conds []*corev1.NodeCondition
		want  zoneState
	}{
		{[]*corev1.NodeCondition{u}, stateFullDisruption},
		{[]*corev1.NodeCondition{u, nil}, stateFullDisruption},
		{[]*corev1.NodeCondition{r, u}, stateNormal},
		{[]*corev1.NodeCondition{r, u, u}, stateNormal},
		{[]*corev1.NodeCondition{r, u, u, u}, statePartialDisruption},
		{[]*corev1.NodeCondition{r, r, r, u, u, u}, stateNormal},
	} {
		if got := c.computeZoneState(tc.conds); got != tc.want {
			t.Errorf("%d conditions: %s, want %s", len(tc.conds), got, tc.want)
		}
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{corev1.LabelTopologyZone: "z", corev1.LabelTopologyRegion: "r"}}}
	if zoneKey(n) != "r:\x00:z" || zoneKey(&corev1.Node{}) != "" {
		t.Errorf("zone key %q", zoneKey(n))
	}
}

func TestZoneQueueRateLimits(t *testing.T) {
	q := newZoneQueue(0.1)
	now := time.Now()
	q.add("a", "1", now)
	q.add("b", "2", now)
	if q.add("a", "1", now) {
		t.Fatal("a queued twice")
	}
	var got []string
	q.try(now, func(name, _ string) (bool, time.Duration) { got = append(got, name); return true, 0 })
	// Burst 1: one node now, the next in ten seconds.
	if strings.Join(got, ",") != "a" {
		t.Fatalf("processed %v", got)
	}
	q.swapLimiter(0)
	q.try(now, func(name, _ string) (bool, time.Duration) { got = append(got, name); return true, 0 })
	if len(got) != 1 || !q.remove("b") {
		t.Fatalf("processed %v with a stopped limiter", got)
	}
}
