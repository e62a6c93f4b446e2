package statefulset

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testSet(replicas int32, mutate ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "set-uid", Generation: 3},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: "nginx",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(0))}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
		},
	}
	for _, m := range mutate {
		m(set)
	}
	return set
}

type podState int

const (
	pending podState = iota
	running          // running, not ready
	ready            // running and ready for an hour
	failed
	deleting // ready, being deleted
)

// mkPod makes the pod of ordinal ord at revision rev in state s.
func mkPod(set *appsv1.StatefulSet, ord int, rev string, s podState) *corev1.Pod {
	p := newPod(set, rev, ord)
	p.UID = types.UID("uid-" + p.Name)
	switch s {
	case pending:
		p.Status.Phase = corev1.PodPending
	case running:
		p.Status.Phase = corev1.PodRunning
	case ready, deleting:
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
		if s == deleting {
			t := metav1.NewTime(now)
			p.DeletionTimestamp = &t
		}
	case failed:
		p.Status.Phase = corev1.PodFailed
	}
	return p
}

// describe renders a plan's steps as "create web-0(update) delete web-2 ...".
func describe(set *appsv1.StatefulSet, pl plan) string {
	var out []string
	for _, s := range pl.steps {
		switch s.op {
		case opCreate:
			rev := "update"
			if s.current {
				rev = "current"
			}
			out = append(out, fmt.Sprintf("create %s(%s)", podName(set, s.ord), rev))
		default:
			out = append(out, fmt.Sprintf("%s %s", s.op, s.pod.Name))
		}
	}
	return strings.Join(out, " ")
}

var oneRev = revs{current: "web-r1", update: "web-r1"}
var twoRevs = revs{current: "web-r1", update: "web-r2", currentReplicas: 3}

func TestOrderedReadyCreatesOneAtATime(t *testing.T) {
	set := testSet(3)
	cases := []struct {
		name    string
		pods    []*corev1.Pod
		want    string
		waiting string
	}{
		{"empty set: only the first ordinal", nil, "create web-0(update)", "web-0"},
		{"web-0 pending: wait", []*corev1.Pod{mkPod(set, 0, "web-r1", pending)}, "", "web-0"},
		{"web-0 running, not ready: wait", []*corev1.Pod{mkPod(set, 0, "web-r1", running)}, "", "web-0"},
		{"web-0 ready: web-1 next", []*corev1.Pod{mkPod(set, 0, "web-r1", ready)}, "create web-1(update)", "web-1"},
		{"a deleted web-1 comes back under its name", []*corev1.Pod{mkPod(set, 0, "web-r1", ready), mkPod(set, 2, "web-r1", ready)}, "create web-1(update)", "web-1"},
		{"web-1 terminating: wait for it to go", []*corev1.Pod{mkPod(set, 0, "web-r1", ready), mkPod(set, 1, "web-r1", deleting)}, "", "web-1"},
		{"all ready: nothing", []*corev1.Pod{mkPod(set, 0, "web-r1", ready), mkPod(set, 1, "web-r1", ready), mkPod(set, 2, "web-r1", ready)}, "", ""},
		{"failed pod deleted and recreated", []*corev1.Pod{mkPod(set, 0, "web-r1", ready), mkPod(set, 1, "web-r1", failed)}, "delete web-1 create web-1(update)", "web-1"},
	}
	for _, tc := range cases {
		pl := computePlan(set, tc.pods, oneRev, now)
		if got := describe(set, pl); got != tc.want || pl.waiting != tc.waiting {
			t.Errorf("%s: plan %q waiting %q, want %q waiting %q", tc.name, got, pl.waiting, tc.want, tc.waiting)
		}
	}
	// The failed pod's deletion is marked, for the RecreatingFailedPod event.
	pl := computePlan(set, []*corev1.Pod{mkPod(set, 0, "web-r1", failed)}, oneRev, now)
	if !pl.steps[0].failed {
		t.Fatalf("failed pod's delete step not marked: %+v", pl.steps[0])
	}
}

func TestParallelCreatesAndDeletesTogether(t *testing.T) {
	par := func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
	set := testSet(3, par)
	if got := describe(set, computePlan(set, nil, oneRev, now)); got != "create web-0(update) create web-1(update) create web-2(update)" {
		t.Fatalf("parallel create: %q", got)
	}
	pods := []*corev1.Pod{mkPod(set, 0, "web-r1", running), mkPod(set, 2, "web-r1", pending)}
	if got := describe(set, computePlan(set, pods, oneRev, now)); got != "create web-1(update)" {
		t.Fatalf("parallel does not wait for readiness: %q", got)
	}
	small := testSet(1, par)
	pods = []*corev1.Pod{mkPod(set, 0, "web-r1", ready), mkPod(set, 1, "web-r1", running), mkPod(set, 2, "web-r1", ready)}
	if got := describe(small, computePlan(small, pods, oneRev, now)); got != "delete web-2 delete web-1" {
		t.Fatalf("parallel scale down: %q", got)
	}
}

func TestScaleDownFromHighestOrdinal(t *testing.T) {
	big := testSet(3)
	set := testSet(1)
	all := func(states ...podState) []*corev1.Pod {
		var out []*corev1.Pod
		for i, s := range states {
			out = append(out, mkPod(big, i, "web-r1", s))
		}
		return out
	}
	cases := []struct {
		name string
		pods []*corev1.Pod
		want string
	}{
		{"highest first, one at a time", all(ready, ready, ready), "delete web-2"},
		{"wait while it terminates", all(ready, ready, deleting), ""},
		{"then the next", all(ready, ready), "delete web-1"},
		{"an unhealthy remaining replica blocks", all(running, ready, ready), ""},
		{"the first unhealthy condemned pod may go", all(ready, ready, running), "delete web-2"},
		{"a healthy highest pod goes though a lower one is unhealthy", all(ready, running, ready), "delete web-2"},
		{"an unhealthy higher pod waits behind the first unhealthy one", all(ready, running, running), ""},
	}
	for _, tc := range cases {
		if got := describe(set, computePlan(set, tc.pods, oneRev, now)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRollingUpdateFromHighestOrdinal(t *testing.T) {
	set := testSet(3)
	at := func(revs ...string) []*corev1.Pod {
		var out []*corev1.Pod
		for i, r := range revs {
			s := ready
			if strings.HasSuffix(r, "!") { // not ready yet
				r, s = strings.TrimSuffix(r, "!"), running
			}
			out = append(out, mkPod(set, i, r, s))
		}
		return out
	}
	cases := []struct {
		name string
		set  *appsv1.StatefulSet
		pods []*corev1.Pod
		want string
	}{
		{"the highest outdated pod goes first", set, at("web-r1", "web-r1", "web-r1"), "delete web-2"},
		{"the replacement is not ready: wait", set, at("web-r1", "web-r1", "web-r2!"), ""},
		{"then the next lower", set, at("web-r1", "web-r1", "web-r2"), "delete web-1"},
		{"done", set, at("web-r2", "web-r2", "web-r2"), ""},
		{"partition 2 keeps ordinals 0 and 1", testSet(3, func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = new(int32(2)) }),
			at("web-r1", "web-r1", "web-r2"), ""},
		{"OnDelete never deletes", testSet(3, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}), at("web-r1", "web-r1", "web-r1"), ""},
		{"maxUnavailable 2: two at once", testSet(3, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(2))
		}), at("web-r1", "web-r1", "web-r1"), "delete web-2 delete web-1"},
		{"OrderedReady waits for an unready pod before anything else", set, at("web-r1", "web-r2!", "web-r2"), ""},
		{"Parallel, maxUnavailable 2, one unavailable: one more", testSet(3, func(s *appsv1.StatefulSet) {
			s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(2))
		}), at("web-r1", "web-r1", "web-r2!"), "delete web-1"},
	}
	for _, tc := range cases {
		if got := describe(tc.set, computePlan(tc.set, tc.pods, twoRevs, now)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPartitionRecreatesBelowAtCurrentRevision(t *testing.T) {
	set := testSet(3, func(s *appsv1.StatefulSet) {
		s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		s.Spec.UpdateStrategy.RollingUpdate.Partition = new(int32(2))
	})
	if got := describe(set, computePlan(set, nil, twoRevs, now)); got != "create web-0(current) create web-1(current) create web-2(update)" {
		t.Fatalf("%q", got)
	}
	// Without a rollingUpdate block, status.currentReplicas decides.
	set.Spec.UpdateStrategy.RollingUpdate = nil
	r := twoRevs
	r.currentReplicas = 1
	if got := describe(set, computePlan(set, nil, r, now)); got != "create web-0(current) create web-1(update) create web-2(update)" {
		t.Fatalf("no rollingUpdate block: %q", got)
	}
}

func TestMinReadySecondsAndOrdinalsStart(t *testing.T) {
	set := testSet(2, func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 10 })
	p := mkPod(set, 0, "web-r1", ready)
	p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-4 * time.Second))
	pl := computePlan(set, []*corev1.Pod{p}, oneRev, now)
	if len(pl.steps) != 0 || pl.waiting != "web-0" || pl.requeue != 6*time.Second {
		t.Fatalf("ready 4 s of 10: %q waiting %q requeue %s", describe(set, pl), pl.waiting, pl.requeue)
	}
	p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-10 * time.Second))
	if got := describe(set, computePlan(set, []*corev1.Pod{p}, oneRev, now)); got != "create web-1(update)" {
		t.Fatalf("available: %q", got)
	}

	started := testSet(2, func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5} })
	stray := mkPod(started, 0, "web-r1", ready) // ordinal 0 is now outside [5, 7)
	if got := describe(started, computePlan(started, []*corev1.Pod{stray}, oneRev, now)); got != "create web-5(update)" {
		t.Fatalf("ordinals.start: %q", got)
	}
	five, six := mkPod(started, 5, "web-r1", ready), mkPod(started, 6, "web-r1", ready)
	if got := describe(started, computePlan(started, []*corev1.Pod{stray, five, six}, oneRev, now)); got != "delete web-0" {
		t.Fatalf("pods outside the ordinal range are condemned: %q", got)
	}
}

func TestIdentityRelabelAndDeletingSet(t *testing.T) {
	set := testSet(1)
	p := mkPod(set, 0, "web-r1", ready)
	delete(p.Labels, appsv1.PodIndexLabel)
	if got := describe(set, computePlan(set, []*corev1.Pod{p}, oneRev, now)); got != "relabel web-0" {
		t.Fatalf("missing pod-index label: %q", got)
	}
	gone := testSet(3)
	gone.DeletionTimestamp = &metav1.Time{Time: now}
	if pl := computePlan(gone, nil, oneRev, now); len(pl.steps) != 0 {
		t.Fatalf("a set being deleted made pods: %q", describe(gone, pl))
	}
}

func TestComputeStatus(t *testing.T) {
	set := testSet(3, func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 600 })
	pods := []*corev1.Pod{mkPod(set, 0, "web-r1", ready), mkPod(set, 1, "web-r2", ready), mkPod(set, 2, "web-r2", running), mkPod(set, 3, "web-r1", deleting)}
	st := computeStatus(set, pods, twoRevs, 0, now)
	if st.Replicas != 4 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.CurrentReplicas != 1 || st.UpdatedReplicas != 2 ||
		st.CurrentRevision != "web-r1" || st.UpdateRevision != "web-r2" || st.ObservedGeneration != 3 || *st.CollisionCount != 0 {
		t.Fatalf("status %+v", st)
	}
	// Every pod updated and ready: the rollout is complete and the update revision becomes current.
	pods = []*corev1.Pod{mkPod(set, 0, "web-r2", ready), mkPod(set, 1, "web-r2", ready), mkPod(set, 2, "web-r2", ready)}
	st = computeStatus(set, pods, twoRevs, 0, now)
	if st.CurrentRevision != "web-r2" || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 {
		t.Fatalf("complete rollout %+v", st)
	}
	// OnDelete keeps the current revision (as upstream).
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	if st = computeStatus(set, pods, twoRevs, 0, now); st.CurrentRevision != "web-r1" {
		t.Fatalf("OnDelete status %+v", st)
	}
}
