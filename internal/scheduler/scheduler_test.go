package scheduler

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"skiff/internal/scheduler/config"
	"skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/plugins"
	"skiff/internal/scheduler/queue"
	st "skiff/internal/scheduler/testing"
)

// harness runs scheduling cycles synchronously against a fake clientset: nodes and bound pods go straight into
// the cache, pending pods into the queue, and each cycle's decision is read back from the assumed pod.
type harness struct {
	t     *testing.T
	sched *Scheduler
}

func newHarness(t *testing.T, cfg *config.Result) *harness {
	t.Helper()
	if cfg == nil {
		cfg = config.Default()
	}
	for i := range cfg.Profiles {
		cfg.Profiles[i].Registry = plugins.Registry()
	}
	s, err := New(Options{Client: fake.NewClientset(), Profiles: cfg.Profiles})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, sched: s}
}

func (h *harness) nodes(ns ...*corev1.Node) *harness {
	for _, n := range ns {
		h.sched.cache.AddNode(n)
	}
	return h
}

func (h *harness) bound(ps ...*corev1.Pod) *harness {
	for _, p := range ps {
		h.sched.cache.AddPod(p)
	}
	return h
}

// schedule runs one cycle for pod and returns the chosen node ("" when unschedulable) and the fit error text.
func (h *harness) schedule(pod *corev1.Pod) (string, string) {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.sched.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.sched.queue.Add(pod)
	qp := h.sched.queue.Pop()
	prof := h.sched.profiles[pod.Spec.SchedulerName]
	h.sched.cache.UpdateSnapshot(h.sched.snapshot)
	state := framework.NewCycleState()
	host, err := h.sched.schedulePod(ctx, prof, state, qp.Pod)
	h.sched.queue.Done(pod.UID)
	if err != nil {
		return "", err.Error()
	}
	placed := pod.DeepCopy()
	placed.Spec.NodeName = host
	h.sched.cache.AddPod(placed)
	return host, ""
}

func TestHarnessTopologySpread(t *testing.T) {
	h := newHarness(t, nil).nodes(
		st.MakeNode().Name("a1").Label(corev1.LabelTopologyZone, "a").Capacity(map[string]string{"cpu": "4"}).Obj(),
		st.MakeNode().Name("a2").Label(corev1.LabelTopologyZone, "a").Capacity(map[string]string{"cpu": "4"}).Obj(),
		st.MakeNode().Name("b1").Label(corev1.LabelTopologyZone, "b").Capacity(map[string]string{"cpu": "4"}).Obj(),
	)
	zones := map[string]int{}
	for i := 0; i < 4; i++ {
		p := st.MakePod().Name(fmt.Sprintf("p%d", i)).Label("app", "x").Req(map[string]string{"cpu": "100m"}).
			SpreadConstraint(1, corev1.LabelTopologyZone, corev1.DoNotSchedule, map[string]string{"app": "x"}).Obj()
		node, msg := h.schedule(p)
		if node == "" {
			t.Fatalf("pod %d unschedulable: %s", i, msg)
		}
		zones[map[string]string{"a1": "a", "a2": "a", "b1": "b"}[node]]++
	}
	if zones["a"] != 2 || zones["b"] != 2 {
		t.Fatalf("zones %v", zones)
	}
}

func TestHarnessFitError(t *testing.T) {
	h := newHarness(t, nil).nodes(
		st.MakeNode().Name("n1").Capacity(map[string]string{"cpu": "1"}).Obj(),
		st.MakeNode().Name("n2").Capacity(map[string]string{"cpu": "1"}).Taint("k", "v", corev1.TaintEffectNoSchedule).Obj(),
	)
	_, msg := h.schedule(st.MakePod().Name("big").Req(map[string]string{"cpu": "2"}).Obj())
	want := "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s)."
	// (The harness runs no preemption, so upstream's "preemption: ..." suffix is absent.)
	if msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
}

var _ = queue.New

func TestHarnessNominatedPodHoldsRoom(t *testing.T) {
	h := newHarness(t, nil).nodes(st.MakeNode().Name("n1").Capacity(map[string]string{"cpu": "1"}).Obj())
	high := st.MakePod().Name("high").Priority(100).Req(map[string]string{"cpu": "800m"}).Obj()
	h.sched.queue.Nominate(high, "n1")
	_, msg := h.schedule(st.MakePod().Name("low").Priority(1).Req(map[string]string{"cpu": "500m"}).Obj())
	if msg == "" {
		t.Fatal("a lower-priority pod took the room held for a nominated pod")
	}
	node, msg := h.schedule(st.MakePod().Name("higher").Priority(200).Req(map[string]string{"cpu": "500m"}).Obj())
	if node != "n1" {
		t.Fatalf("a higher-priority pod must not be held back by a lower nomination: %s", msg)
	}
}
