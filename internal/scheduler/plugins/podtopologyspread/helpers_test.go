package podtopologyspread

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// The fake handle and snapshot builder are shared by the plugin tests.
type fakeHandle = st.FakeHandle

var newSnapshot = st.NewSnapshot

func newPlugin(t testing.TB, args runtime.Object, snap *framework.Snapshot) *PodTopologySpread {
	t.Helper()
	p, err := New(args, &fakeHandle{Snap: snap})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*PodTopologySpread)
}

// tsc builds a constraint; options tweak it.
func tsc(maxSkew int32, key string, when corev1.UnsatisfiableConstraintAction, sel map[string]string, opts ...func(*corev1.TopologySpreadConstraint)) corev1.TopologySpreadConstraint {
	c := corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when}
	if sel != nil {
		c.LabelSelector = &metav1.LabelSelector{MatchLabels: sel}
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func minDomains(n int32) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.MinDomains = &n }
}

func affinityPolicy(p corev1.NodeInclusionPolicy) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.NodeAffinityPolicy = &p }
}

func taintsPolicy(p corev1.NodeInclusionPolicy) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.NodeTaintsPolicy = &p }
}

func matchLabelKeys(keys ...string) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.MatchLabelKeys = keys }
}

func withConstraints(p *corev1.Pod, cs ...corev1.TopologySpreadConstraint) *corev1.Pod {
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, cs...)
	return p
}

func ownedBy(p *corev1.Pod, apiVersion, kind, name string) *corev1.Pod {
	yes := true
	p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: "uid-" + "owner-" + "x", Controller: &yes})
	return p
}
