package validation

import (
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff/internal/admission/policy"
)

// mutatingOperations: a mutation applies to creates and updates (and CONNECT), never to deletes.
var mutatingOperations = []admissionregistrationv1.OperationType{admissionregistrationv1.OperationAll,
	admissionregistrationv1.Connect, admissionregistrationv1.Create, admissionregistrationv1.Update}

// validateMutatingAdmissionPolicy: as upstream, paramKind, matchConstraints (resourceRules required, no
// DELETE), failurePolicy, matchConditions, variables, at least one mutation (the patchType's member set,
// the other not; expressions that compile to list(JSONPatch) or Object), reinvocationPolicy required.
func validateMutatingAdmissionPolicy(p *admissionregistrationv1.MutatingAdmissionPolicy) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	s := &p.Spec
	if s.FailurePolicy == nil {
		errs = append(errs, field.Required(sp.Child("failurePolicy"), ""))
	} else {
		errs = append(errs, oneOf(*s.FailurePolicy, sp.Child("failurePolicy"), admissionregistrationv1.Fail, admissionregistrationv1.Ignore)...)
	}
	if k := s.ParamKind; k != nil {
		errs = append(errs, validateParamKind(k, sp.Child("paramKind"))...)
	}
	if s.MatchConstraints == nil {
		errs = append(errs, field.Required(sp.Child("matchConstraints"), ""))
	} else {
		mp := sp.Child("matchConstraints")
		errs = append(errs, validateMatchResources(s.MatchConstraints, mp)...)
		if len(s.MatchConstraints.ResourceRules) == 0 {
			errs = append(errs, field.Required(mp.Child("resourceRules"), ""))
		}
		errs = append(errs, validateMutatingOperations(s.MatchConstraints, mp)...)
	}
	errs = append(errs, validateMatchConditions(s.MatchConditions, sp.Child("matchConditions"))...)

	vars, conds, mutations := policy.CompileMutating(s)
	errs = append(errs, validateVariables(s.Variables, vars, sp.Child("variables"))...)
	for i, c := range s.MatchConditions {
		if c.Expression != "" && conds[i].Err != nil {
			errs = append(errs, field.Invalid(sp.Child("matchConditions").Index(i).Child("expression"), c.Expression, conds[i].Err.Error()))
		}
	}
	if len(s.Mutations) == 0 {
		errs = append(errs, field.Required(sp.Child("mutations"), "mutations must contain at least one item"))
	}
	for i, m := range s.Mutations {
		mp := sp.Child("mutations").Index(i)
		ap, jp := mp.Child("applyConfiguration"), mp.Child("jsonPatch")
		check := func(expr string, p *field.Path) {
			if strings.TrimSpace(expr) == "" {
				errs = append(errs, field.Required(p, ""))
			} else if e := mutations[i]; e != nil && e.Err != nil {
				errs = append(errs, field.Invalid(p, expr, e.Err.Error()))
			}
		}
		switch m.PatchType {
		case "":
			errs = append(errs, field.Required(mp.Child("patchType"), ""))
		case admissionregistrationv1.PatchTypeJSONPatch:
			if m.JSONPatch == nil {
				errs = append(errs, field.Required(jp, "must be specified when patchType is JSONPatch"))
			} else {
				check(m.JSONPatch.Expression, jp.Child("expression"))
			}
			if m.ApplyConfiguration != nil {
				errs = append(errs, field.Invalid(ap, "{applyConfiguration}", "must not be specified when patchType is JSONPatch"))
			}
		case admissionregistrationv1.PatchTypeApplyConfiguration:
			if m.ApplyConfiguration == nil {
				errs = append(errs, field.Required(ap, "must be specified when patchType is ApplyConfiguration"))
			} else {
				check(m.ApplyConfiguration.Expression, ap.Child("expression"))
			}
			if m.JSONPatch != nil {
				errs = append(errs, field.Invalid(jp, "{jsonPatch}", "must not be specified when patchType is ApplyConfiguration"))
			}
		default:
			errs = append(errs, oneOf(m.PatchType, mp.Child("patchType"), admissionregistrationv1.PatchTypeApplyConfiguration, admissionregistrationv1.PatchTypeJSONPatch)...)
		}
	}
	errs = append(errs, requiredOneOf(s.ReinvocationPolicy, sp.Child("reinvocationPolicy"),
		admissionregistrationv1.NeverReinvocationPolicy, admissionregistrationv1.IfNeededReinvocationPolicy)...)
	return errs
}

func validateMutatingAdmissionPolicyBinding(b *admissionregistrationv1.MutatingAdmissionPolicyBinding) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	s := &b.Spec
	errs = append(errs, validateBindingPolicy(s.PolicyName, s.ParamRef, sp)...)
	if m := s.MatchResources; m != nil {
		errs = append(errs, validateMatchResources(m, sp.Child("matchResources"))...)
		errs = append(errs, validateMutatingOperations(m, sp.Child("matchResources"))...)
	}
	return errs
}

// validateMutatingOperations: "it is only possible to mutate create and update requests" (and CONNECT).
func validateMutatingOperations(m *admissionregistrationv1.MatchResources, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, r := range m.ResourceRules {
		for _, op := range r.Operations {
			errs = append(errs, oneOf(op, p.Child("resourceRules").Child("operations"), mutatingOperations...)...)
		}
	}
	return errs
}
