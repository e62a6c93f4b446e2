package validation

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff/internal/apiserver/defaults"
)

func TestValidatingAdmissionPolicy(t *testing.T) {
	good := func() *admissionregistrationv1.ValidatingAdmissionPolicy {
		p := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{Operations: []admissionregistrationv1.OperationType{"CREATE"},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}}}},
				Variables:   []admissionregistrationv1.Variable{{Name: "r", Expression: "object.spec.replicas"}},
				Validations: []admissionregistrationv1.Validation{{Expression: "variables.r < 5", MessageExpression: "'too many: ' + string(variables.r)"}},
			}}
		defaults.Default(p)
		return p
	}
	if errs := Validate(good()); len(errs) != 0 {
		t.Fatalf("valid policy: %v", errs)
	}
	for name, c := range map[string]struct {
		mod  func(p *admissionregistrationv1.ValidatingAdmissionPolicy)
		want string
	}{
		"syntax": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Expression = "object.spec.replicas <"
		}, "spec.validations[0].expression: Invalid value: \"object.spec.replicas <\": compilation failed"},
		"not bool": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Spec.Validations[0].Expression = "'x'" }, "must evaluate to bool"},
		"dyn result": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Expression = "object.spec.paused"
		}, "spec.validations[0].expression: Invalid value: \"object.spec.paused\": must evaluate to bool but got dyn"},
		"params without paramKind": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.ParamKind = nil
			p.Spec.Validations[0].Expression = "params.max > 1"
		}, "undeclared reference to 'params'"},
		"later var": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Variables[0].Expression = "variables.r"
		}, "spec.variables[0].expression"},
		"reason": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Reason = ptr.To(metav1.StatusReasonConflict)
		}, "spec.validations[0].reason: Unsupported value"},
		"empty": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Spec.Validations = nil }, "validations or auditAnnotations must contain at least one item"},
		"no rules": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.MatchConstraints.ResourceRules = nil
		}, "spec.matchConstraints.resourceRules: Required value"},
		"message nl": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Spec.Validations[0].Message = "a\nb" }, "message must not contain line breaks"},
		"audit": {func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.AuditAnnotations = []admissionregistrationv1.AuditAnnotation{{Key: "k", ValueExpression: "1"}}
		}, "must evaluate to one of [string null_type] but got int"},
	} {
		p := good()
		c.mod(p)
		if errs := Validate(p); !strings.Contains(errs.ToAggregate().Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, errs, c.want)
		}
	}
}

func TestValidatingAdmissionPolicyBinding(t *testing.T) {
	b := func(actions ...admissionregistrationv1.ValidationAction) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
		x := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "p", ValidationActions: actions,
				ParamRef: &admissionregistrationv1.ParamRef{Name: "cfg", ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)}}}
		defaults.Default(x)
		return x
	}
	if errs := Validate(b(admissionregistrationv1.Deny, admissionregistrationv1.Audit)); len(errs) != 0 {
		t.Fatal(errs)
	}
	for want, x := range map[string]*admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		"spec.validationActions: Required value":       b(),
		"must not contain both Deny and Warn":          b(admissionregistrationv1.Deny, admissionregistrationv1.Warn),
		"spec.validationActions[1]: Duplicate value":   b(admissionregistrationv1.Audit, admissionregistrationv1.Audit),
		"spec.validationActions[0]: Unsupported value": b("Log"),
	} {
		if errs := Validate(x); !strings.Contains(errs.ToAggregate().Error(), want) {
			t.Errorf("got %v, want %q", errs, want)
		}
	}
	x := b(admissionregistrationv1.Deny)
	x.Spec.ParamRef.Selector = &metav1.LabelSelector{}
	if errs := Validate(x); !strings.Contains(errs.ToAggregate().Error(), "name and selector are mutually exclusive") {
		t.Error(errs)
	}
}
