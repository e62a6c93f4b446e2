package interpodaffinity

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

func newPlugin(t testing.TB, args runtime.Object, h framework.Handle) *InterPodAffinity {
	t.Helper()
	p, err := New(args, h)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*InterPodAffinity)
}

// term builds a PodAffinityTerm selecting pods with the given labels.
func term(key string, sel map[string]string, opts ...func(*corev1.PodAffinityTerm)) corev1.PodAffinityTerm {
	t := corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}
	for _, o := range opts {
		o(&t)
	}
	return t
}

func inNamespaces(ns ...string) func(*corev1.PodAffinityTerm) {
	return func(t *corev1.PodAffinityTerm) { t.Namespaces = ns }
}

func nsSelector(sel *metav1.LabelSelector) func(*corev1.PodAffinityTerm) {
	return func(t *corev1.PodAffinityTerm) { t.NamespaceSelector = sel }
}

func matchKeys(keys ...string) func(*corev1.PodAffinityTerm) {
	return func(t *corev1.PodAffinityTerm) { t.MatchLabelKeys = keys }
}

func mismatchKeys(keys ...string) func(*corev1.PodAffinityTerm) {
	return func(t *corev1.PodAffinityTerm) { t.MismatchLabelKeys = keys }
}

func weighted(w int32, t corev1.PodAffinityTerm) corev1.WeightedPodAffinityTerm {
	return corev1.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: t}
}

// aff builds an Affinity from required/preferred affinity and anti-affinity terms.
type aff struct {
	req, anti         []corev1.PodAffinityTerm
	prefer, preferNot []corev1.WeightedPodAffinityTerm
}

func (a aff) obj() *corev1.Affinity {
	out := &corev1.Affinity{}
	if len(a.req) > 0 || len(a.prefer) > 0 {
		out.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: a.req, PreferredDuringSchedulingIgnoredDuringExecution: a.prefer}
	}
	if len(a.anti) > 0 || len(a.preferNot) > 0 {
		out.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: a.anti, PreferredDuringSchedulingIgnoredDuringExecution: a.preferNot}
	}
	return out
}
