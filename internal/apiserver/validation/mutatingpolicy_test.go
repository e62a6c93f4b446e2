package validation

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestMutatingAdmissionPolicy(t *testing.T) {
	mk := func(mod func(*admissionregistrationv1.MutatingAdmissionPolicySpec)) *admissionregistrationv1.MutatingAdmissionPolicy {
		p := &admissionregistrationv1.MutatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
				FailurePolicy:      ptr.To(admissionregistrationv1.Fail),
				ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
				MatchConstraints: &admissionregistrationv1.MatchResources{MatchPolicy: ptr.To(admissionregistrationv1.Equivalent),
					NamespaceSelector: &metav1.LabelSelector{}, ObjectSelector: &metav1.LabelSelector{},
					ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"},
							Scope: ptr.To(admissionregistrationv1.AllScopes)}}}}},
				Mutations: []admissionregistrationv1.Mutation{{PatchType: admissionregistrationv1.PatchTypeApplyConfiguration,
					ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{Expression: `Object{metadata: Object.metadata{labels: {"a": "b"}}}`}}},
			}}
		if mod != nil {
			mod(&p.Spec)
		}
		return p
	}
	if errs := validateMutatingAdmissionPolicy(mk(nil)); len(errs) != 0 {
		t.Fatalf("valid policy refused: %v", errs)
	}
	for _, c := range []struct {
		mod  func(*admissionregistrationv1.MutatingAdmissionPolicySpec)
		want string
	}{
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) { s.Mutations = nil }, "spec.mutations: Required value"},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) { s.ReinvocationPolicy = "" }, "spec.reinvocationPolicy: Required value"},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) { s.Mutations[0].PatchType = "Merge" }, `spec.mutations[0].patchType: Unsupported value: "Merge"`},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) {
			s.Mutations[0].ApplyConfiguration.Expression = "Object{"
		}, "spec.mutations[0].applyConfiguration.expression: Invalid value"},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) {
			s.Mutations[0].ApplyConfiguration.Expression = "object"
		}, "must evaluate to Object"},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) {
			s.Mutations[0] = admissionregistrationv1.Mutation{PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: `[JSONPatch{op: "add"}, 1]`}}
		}, "spec.mutations[0].jsonPatch.expression: Invalid value"},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) {
			s.Mutations[0].JSONPatch = &admissionregistrationv1.JSONPatch{Expression: "[]"}
		}, "spec.mutations[0].jsonPatch: Invalid value"},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) {
			s.MatchConstraints.ResourceRules[0].Operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Delete}
		}, `spec.matchConstraints.resourceRules.operations: Unsupported value: "DELETE"`},
		{func(s *admissionregistrationv1.MutatingAdmissionPolicySpec) {
			s.Variables = []admissionregistrationv1.Variable{{Name: "x", Expression: "1 +"}}
		}, "spec.variables[0].expression: Invalid value"},
	} {
		errs := validateMutatingAdmissionPolicy(mk(c.mod))
		if !strings.Contains(errs.ToAggregate().Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, errs)
		}
	}
	b := &admissionregistrationv1.MutatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"}}
	if errs := validateMutatingAdmissionPolicyBinding(b); !strings.Contains(errs.ToAggregate().Error(), "spec.policyName: Required value") {
		t.Errorf("binding: %v", errs)
	}
}
