package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// twoChecks costs two authorization checks (350000 each): under the per-call limit, but 15 of them are
// over a policy's RuntimeCELCostBudget (10,000,000).
const twoChecks = "[authorizer.path('/a').check('get').allowed(), authorizer.path('/b').check('get').allowed()].size() == 2"

const outOfBudget = "validation failed due to running out of cost budget, no further validation rules will be run"

func TestValidatingPolicyCostBudget(t *testing.T) {
	expensive := func(name string, fp admissionregv1.FailurePolicyType) *admissionregv1.ValidatingAdmissionPolicy {
		return policy(name, func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
			s.FailurePolicy = ptr.To(fp)
			for range 15 {
				s.Validations = append(s.Validations, admissionregv1.Validation{Expression: twoChecks})
			}
		})
	}
	p, _ := setup(t, []runtime.Object{expensive("p", admissionregv1.Fail), binding("b", "p", deny, nil), ns("a", nil)})
	err := p.Validate(context.Background(), deployAttrs("a", 1, nil))
	want := "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: " + outOfBudget
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v, want ...%s", err, want)
	}
	if se, ok := err.(*apierrors.StatusError); !ok || se.ErrStatus.Code != 422 {
		t.Fatalf("status %#v", err)
	}
	// failurePolicy Ignore: the exhausted budget is ignored.
	p2, _ := setup(t, []runtime.Object{expensive("p", admissionregv1.Ignore), binding("b", "p", deny, nil), ns("a", nil)})
	if err := p2.Validate(context.Background(), deployAttrs("a", 1, nil)); err != nil {
		t.Fatal(err)
	}
	// The variables a validation evaluates are charged to the budget too.
	pol := policy("v", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		var uses []string
		for i := range 15 {
			s.Variables = append(s.Variables, admissionregv1.Variable{Name: fmt.Sprintf("v%d", i), Expression: twoChecks})
			uses = append(uses, fmt.Sprintf("variables.v%d", i))
		}
		s.Validations = []admissionregv1.Validation{{Expression: strings.Join(uses, " && ")}}
	})
	p3, _ := setup(t, []runtime.Object{pol, binding("b", "v", deny, nil), ns("a", nil)})
	if err := p3.Validate(context.Background(), deployAttrs("a", 1, nil)); err == nil || !strings.HasSuffix(err.Error(), outOfBudget) {
		t.Fatalf("variables: got %v", err)
	}
}

func TestMutatingPolicyCostBudget(t *testing.T) {
	pol := mpolicy("m", func(s *admissionregv1.MutatingAdmissionPolicySpec) {
		var uses []string
		for i := range 15 {
			s.Variables = append(s.Variables, admissionregv1.Variable{Name: fmt.Sprintf("v%d", i), Expression: twoChecks})
			uses = append(uses, fmt.Sprintf("variables.v%d", i))
		}
		s.Mutations = []admissionregv1.Mutation{jsonPatch(`(` + strings.Join(uses, " && ") + `) ? [JSONPatch{op: "add", path: "/metadata/labels/x", value: "y"}] : []`)}
	})
	p := setupMutating(t, []runtime.Object{pol, mbinding("mb", "m", nil), ns("a", nil)})
	err := p.Admit(context.Background(), deployWithContainers("a"))
	if err == nil || !strings.Contains(err.Error(), "policy 'm' with binding 'mb' denied request: "+outOfBudget) {
		t.Fatalf("got %v", err)
	}
}
