package podgc

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCollect(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Controller{threshold: 2, now: func() time.Time { return now }, absentSince: map[string]time.Time{}, quarantine: 40 * time.Second}
	mk := func(name, node string, phase corev1.PodPhase, age time.Duration, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
		if deleting {
			ts := metav1.NewTime(now)
			p.DeletionTimestamp = &ts
		}
		return p
	}
	pods := []*corev1.Pod{
		mk("done-old", "n1", corev1.PodSucceeded, 3*time.Hour, false),
		mk("done-mid", "n1", corev1.PodFailed, 2*time.Hour, false),
		mk("done-new", "n1", corev1.PodSucceeded, time.Hour, false),
		mk("running", "n1", corev1.PodRunning, time.Hour, false),
		mk("orphan", "gone", corev1.PodRunning, time.Hour, false),
		mk("unscheduled-deleting", "", corev1.PodPending, time.Hour, true),
		mk("oos-deleting", "oos", corev1.PodRunning, time.Hour, true),
		mk("oos-running", "oos", corev1.PodRunning, time.Hour, false),
	}
	nodes := []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oos"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: corev1.TaintNodeOutOfService, Effect: corev1.TaintEffectNoExecute}}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}}}
	names := func(vs []victim) string {
		out := ""
		for _, v := range vs {
			out += v.pod.Name + " "
		}
		return out
	}
	if got := names(c.collect(pods, nodes)); got != "done-old unscheduled-deleting oos-deleting " {
		t.Fatalf("first pass: %s", got)
	}
	// The orphan's node is quarantined for 40 s before its pods go.
	now = now.Add(41 * time.Second)
	got := c.collect(pods, nodes)
	if names(got) != "done-old orphan unscheduled-deleting oos-deleting " {
		t.Fatalf("after the quarantine: %s", names(got))
	}
	for _, v := range got {
		if v.pod.Name == "orphan" && v.why != "PodGC: node no longer exists" {
			t.Fatalf("orphan reason %q", v.why)
		}
	}
	// A node that comes back clears its quarantine.
	nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gone"}})
	c.collect(pods, nodes)
	if len(c.absentSince) != 0 {
		t.Fatalf("quarantine kept: %v", c.absentSince)
	}
	_ = fmt.Sprint
}
