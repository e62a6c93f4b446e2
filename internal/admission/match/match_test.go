package match

import (
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/admission"
)

func podAttrs(op string, sub string) *admission.Attributes {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"a": "b"}}}
	return &admission.Attributes{Operation: op, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Subresource: sub,
		Kind: corev1.SchemeGroupVersion.WithKind("Pod"), Namespace: "ns", Name: "p", Object: pod}
}

func TestMatchRules(t *testing.T) {
	rule := func(res string, ops ...admissionregv1.OperationType) admissionregv1.RuleWithOperations {
		return admissionregv1.RuleWithOperations{Operations: ops, Rule: admissionregv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{res}}}
	}
	cluster, namespaced := admissionregv1.ClusterScope, admissionregv1.NamespacedScope
	for _, c := range []struct {
		rule admissionregv1.RuleWithOperations
		a    *admission.Attributes
		want bool
	}{
		{rule("pods", admissionregv1.Create), podAttrs(admission.Create, ""), true},
		{rule("pods", admissionregv1.Update), podAttrs(admission.Create, ""), false},
		{rule("pods", admissionregv1.OperationAll), podAttrs(admission.Delete, ""), true},
		{rule("pods", admissionregv1.OperationAll), podAttrs(admission.Update, "status"), false},
		{rule("pods/status", admissionregv1.OperationAll), podAttrs(admission.Update, "status"), true},
		{rule("pods/*", admissionregv1.OperationAll), podAttrs(admission.Update, "status"), true},
		{rule("pods/*", admissionregv1.OperationAll), podAttrs(admission.Update, ""), true},
		{rule("*", admissionregv1.OperationAll), podAttrs(admission.Update, "status"), false},
		{rule("*/status", admissionregv1.OperationAll), podAttrs(admission.Update, "status"), true},
		{rule("*/*", admissionregv1.OperationAll), podAttrs(admission.Update, "binding"), true},
		{rule("services", admissionregv1.OperationAll), podAttrs(admission.Create, ""), false},
		{func() admissionregv1.RuleWithOperations { r := rule("*", "*"); r.Scope = &cluster; return r }(), podAttrs(admission.Create, ""), false},
		{func() admissionregv1.RuleWithOperations { r := rule("*", "*"); r.Scope = &namespaced; return r }(), podAttrs(admission.Create, ""), true},
		{func() admissionregv1.RuleWithOperations { r := rule("*", "*"); r.Scope = &cluster; return r }(),
			&admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("namespaces"), Name: "x"}, true},
	} {
		if got := Rules([]admissionregv1.RuleWithOperations{c.rule}, c.a); got != c.want {
			t.Errorf("rule %v on %s %s/%s: got %v, want %v", c.rule, c.a.Operation, c.a.Resource.Resource, c.a.Subresource, got, c.want)
		}
	}
}

func TestObjectSelector(t *testing.T) {
	a := podAttrs(admission.Update, "")
	a.OldObject = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"old": "yes"}}}
	for sel, want := range map[string]bool{"a=b": true, "old=yes": true, "a=c": false, "": true} {
		s, _ := metav1.ParseToLabelSelector(sel)
		if got, err := ObjectSelector(s, a); err != nil || got != want {
			t.Errorf("%q: got %v %v, want %v", sel, got, err, want)
		}
	}
}
