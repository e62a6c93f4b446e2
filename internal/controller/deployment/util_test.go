package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func deploy(replicas int32, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &replicas, Strategy: appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}}}}
}

func rs(name string, spec, available int32, annotations map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}, Spec: appsv1.ReplicaSetSpec{Replicas: &spec},
		Status: appsv1.ReplicaSetStatus{Replicas: spec, AvailableReplicas: available}}
}

func TestFenceposts(t *testing.T) {
	for _, tc := range []struct {
		replicas               int32
		surge, unavailable     intstr.IntOrString
		wantSurge, wantUnavail int32
	}{
		{10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2}, // surge rounds up, unavailable down
		{3, intstr.FromInt32(1), intstr.FromInt32(0), 1, 0},
		{1, intstr.FromString("0%"), intstr.FromString("0%"), 0, 1}, // both zero: one may be unavailable
		{4, intstr.FromString("50%"), intstr.FromString("100%"), 2, 4},
	} {
		s, u := resolveFenceposts(deploy(tc.replicas, tc.surge, tc.unavailable))
		if s != tc.wantSurge || u != tc.wantUnavail {
			t.Errorf("replicas %d surge %s unavailable %s: got %d/%d, want %d/%d", tc.replicas, tc.surge.String(), tc.unavailable.String(), s, u, tc.wantSurge, tc.wantUnavail)
		}
	}
}

func TestNewRSReplicas(t *testing.T) {
	d := deploy(10, intstr.FromInt32(2), intstr.FromInt32(0))
	old := rs("old", 10, 10, nil)
	n := rs("new", 0, 0, nil)
	if got := newRSReplicas(d, []*appsv1.ReplicaSet{old, n}, n); got != 2 {
		t.Fatalf("first surge: %d, want 2", got)
	}
	n.Spec.Replicas = ptr(int32(2))
	if got := newRSReplicas(d, []*appsv1.ReplicaSet{old, n}, n); got != 2 {
		t.Fatalf("at the surge limit: %d, want 2 (no growth)", got)
	}
	old.Spec.Replicas = ptr(int32(8))
	if got := newRSReplicas(d, []*appsv1.ReplicaSet{old, n}, n); got != 4 {
		t.Fatalf("after the old one shrank: %d, want 4", got)
	}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if got := newRSReplicas(d, []*appsv1.ReplicaSet{old, n}, n); got != 10 {
		t.Fatalf("recreate: %d, want 10", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestProportion(t *testing.T) {
	// A rollout of 10 (surge 3) is scaled to 20 (surge 5): 25 allowed, 13 running, so 12 to add, of which 10 are
	// handed out here. Each ReplicaSet is scaled from the size it was made for (max-replicas 13) to 25: a to
	// round(8*25/13) = 15 (+7), b to round(5*25/13) = 10 (+5, capped by the 3 left).
	d := deploy(20, intstr.FromString("25%"), intstr.FromString("25%"))
	a := rs("a", 8, 8, map[string]string{MaxReplicasAnnotation: "13"})
	b := rs("b", 5, 0, map[string]string{MaxReplicasAnnotation: "13"})
	pa := proportion(a, d, 10, 0)
	pb := proportion(b, d, 10, pa)
	if pa != 7 || pb != 3 {
		t.Fatalf("proportions %d and %d, want 7 and 3", pa, pb)
	}
	// Scaling to zero takes everything away.
	zero := deploy(0, intstr.FromInt32(1), intstr.FromInt32(0))
	if p := proportion(a, zero, -13, 0); p != -8 {
		t.Fatalf("to zero: %d, want -8", p)
	}
}

func TestNewRSAnnotations(t *testing.T) {
	d := deploy(3, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Annotations = map[string]string{ChangeCauseAnnotation: "kubectl set image", lastAppliedAnnotation: "{}", RevisionAnnotation: "7"}
	r := rs("r", 0, 0, nil)
	if !setNewRSAnnotations(d, r, "4", false) {
		t.Fatal("no change reported for a new ReplicaSet")
	}
	if r.Annotations[RevisionAnnotation] != "4" || r.Annotations[ChangeCauseAnnotation] != "kubectl set image" || r.Annotations[lastAppliedAnnotation] != "" ||
		r.Annotations[DesiredReplicasAnnotation] != "3" || r.Annotations[MaxReplicasAnnotation] != "4" {
		t.Fatalf("annotations %v", r.Annotations)
	}
	// A rollback to it raises its revision and remembers the old one.
	setNewRSAnnotations(d, r, "6", true)
	setNewRSAnnotations(d, r, "9", true)
	if r.Annotations[RevisionAnnotation] != "9" || r.Annotations[RevisionHistoryAnnotation] != "4,6" {
		t.Fatalf("after two rollbacks: %v", r.Annotations)
	}
	if setNewRSAnnotations(d, r, "8", true) {
		t.Fatal("a lower revision changed the ReplicaSet")
	}
}

func TestTemplateHashAndEquality(t *testing.T) {
	a := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i:1"}}}}
	b := a.DeepCopy()
	b.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = templateHash(a, nil)
	if !equalIgnoreHash(a, b) {
		t.Fatal("the hash label made templates differ")
	}
	if templateHash(a, nil) != templateHash(a.DeepCopy(), nil) {
		t.Fatal("hash is not stable")
	}
	one := int32(1)
	if templateHash(a, nil) == templateHash(a, &one) {
		t.Fatal("collision count does not change the hash")
	}
	b.Spec.Containers[0].Image = "i:2"
	if equalIgnoreHash(a, b) || templateHash(a, nil) == templateHash(b, nil) {
		t.Fatal("different images compare equal")
	}
}
