// Package policy runs admission policies (admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and
// its bindings). core.go, params.go and request.go are the part a mutating counterpart shares: matching
// of matchConstraints/matchResources, param resolution (any kind, through dynamic informers started on
// demand), the CEL inputs of a request. validating.go is the ValidatingAdmissionPolicy plugin.
package policy

import (
	"context"
	"fmt"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"skiff/internal/admission"
	"skiff/internal/admission/match"
)

// MatchResources decides whether a policy's matchConstraints or a binding's matchResources cover the
// request: namespaceSelector, objectSelector, resourceRules (with resourceNames), and not
// excludeResourceRules. matchPolicy Equivalent is treated as Exact (as skiff's webhooks): the request's own
// group/version/resource must be listed. A nil m matches everything (a binding without matchResources).
func MatchResources(ctx context.Context, m *admissionregv1.MatchResources, a *admission.Attributes, ns match.NamespaceGetter) (bool, error) {
	if m == nil {
		return true, nil
	}
	ok, err := match.NamespaceSelector(ctx, m.NamespaceSelector, a, ns)
	if err != nil || !ok {
		if err != nil && !apierrors.IsNotFound(err) {
			err = apierrors.NewInternalError(err)
		}
		return false, err
	}
	if ok, err = match.ObjectSelector(m.ObjectSelector, a); err != nil || !ok {
		if err != nil {
			err = apierrors.NewInternalError(err)
		}
		return false, err
	}
	if len(m.ResourceRules) > 0 && !namedRules(m.ResourceRules, a) {
		return false, nil
	}
	if namedRules(m.ExcludeResourceRules, a) {
		return false, nil
	}
	return true, nil
}

// PolicyMatches: a policy's matchConstraints must list resourceRules (validation requires them); with
// none it matches nothing.
func PolicyMatches(ctx context.Context, m *admissionregv1.MatchResources, a *admission.Attributes, ns match.NamespaceGetter) (bool, error) {
	if m == nil || len(m.ResourceRules) == 0 {
		return false, nil
	}
	return MatchResources(ctx, m, a, ns)
}

func namedRules(rules []admissionregv1.NamedRuleWithOperations, a *admission.Attributes) bool {
	for _, r := range rules {
		if !match.Rule(r.RuleWithOperations, a) {
			continue
		}
		if len(r.ResourceNames) == 0 {
			return true
		}
		name := requestName(a)
		for _, n := range r.ResourceNames {
			if n == name {
				return true
			}
		}
	}
	return false
}

// requestName is the request's name, or the object's (a create names the object in its body).
func requestName(a *admission.Attributes) string {
	if a.Name != "" {
		return a.Name
	}
	for _, o := range []any{a.Object, a.OldObject} {
		if o == nil {
			continue
		}
		if acc, err := meta.Accessor(o); err == nil && acc.GetName() != "" {
			return acc.GetName()
		}
	}
	return ""
}

// ConfigError is a policy or binding that cannot be applied (a param that cannot be found, an unknown
// paramKind...). failurePolicy decides: Ignore skips it, Fail refuses the request with upstream's
// message "policy '<p>' with binding '<b>' denied request: failed to configure binding: <err>".
type ConfigError struct {
	Policy, Binding string
	Err             error
}

func (c ConfigError) Error() string {
	if c.Binding != "" {
		return fmt.Sprintf("policy '%s' with binding '%s' denied request: failed to configure binding: %v", c.Policy, c.Binding, c.Err)
	}
	return fmt.Sprintf("policy %q denied request: failed to configure policy: %v", c.Policy, c.Err)
}
