package replicaset

import (
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(name, node string, phase corev1.PodPhase, readyFor time.Duration, restarts int32, age time.Duration) *corev1.Pod {
	now := time.Now()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase,
			ContainerStatuses: []corev1.ContainerStatus{{RestartCount: restarts}}}}
	if readyFor > 0 {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-readyFor))}}
	}
	return p
}

func TestPodsToDeleteOrder(t *testing.T) {
	pods := []*corev1.Pod{
		pod("old-ready", "n1", corev1.PodRunning, time.Hour, 0, 2*time.Hour),
		pod("young-ready", "n1", corev1.PodRunning, time.Minute, 0, 2*time.Hour),
		pod("restarting-ready", "n1", corev1.PodRunning, time.Hour, 3, 2*time.Hour),
		pod("running-unready", "n1", corev1.PodRunning, 0, 0, time.Hour),
		pod("pending", "n1", corev1.PodPending, 0, 0, time.Hour),
		pod("unscheduled", "", corev1.PodPending, 0, 0, time.Hour),
		pod("unknown", "n1", corev1.PodUnknown, 0, 0, time.Hour),
	}
	want := []string{"unscheduled", "pending", "unknown", "running-unready", "young-ready", "restarting-ready", "old-ready"}
	got := podsToDelete(pods, len(pods))
	for i := range want {
		if got[i].Name != want[i] {
			names := []string{}
			for _, p := range got {
				names = append(names, p.Name)
			}
			t.Fatalf("deletion order %v, want %v", names, want)
		}
	}
}

func TestComputeStatus(t *testing.T) {
	three := int32(3)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Generation: 4}, Spec: appsv1.ReplicaSetSpec{Replicas: &three, MinReadySeconds: 60,
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x", "tier": "web"}}}}}
	a := pod("a", "n", corev1.PodRunning, time.Hour, 0, time.Hour)
	a.Labels = map[string]string{"app": "x", "tier": "web"}
	b := pod("b", "n", corev1.PodRunning, 10*time.Second, 0, time.Hour) // ready, not yet available
	b.Labels = map[string]string{"app": "x", "tier": "web"}
	c := pod("c", "n", corev1.PodPending, 0, 0, time.Hour)
	c.Labels = map[string]string{"app": "x"} // adopted by selector, not fully labelled
	st := computeStatus(rs, []*corev1.Pod{a, b, c}, nil, time.Now())
	if st.Replicas != 3 || st.FullyLabeledReplicas != 2 || st.ReadyReplicas != 2 || st.AvailableReplicas != 1 || st.ObservedGeneration != 4 || len(st.Conditions) != 0 {
		t.Fatalf("status %+v", st)
	}
	st = computeStatus(rs, []*corev1.Pod{a}, errors.New("quota exceeded"), time.Now())
	if len(st.Conditions) != 1 || st.Conditions[0].Reason != "FailedCreate" || st.Conditions[0].Message != "quota exceeded" {
		t.Fatalf("failure condition %+v", st.Conditions)
	}
	rs.Status = st
	again := computeStatus(rs, []*corev1.Pod{a}, errors.New("quota exceeded"), time.Now().Add(time.Minute))
	if !again.Conditions[0].LastTransitionTime.Equal(&st.Conditions[0].LastTransitionTime) {
		t.Fatalf("a lasting failure moved its transition time")
	}
}
