package validation

import (
	"regexp"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff/internal/admission/policy"
)

// celIdentifier: a variable name must be a CEL identifier.
var celIdentifier = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)

var supportedValidationReasons = []metav1.StatusReason{metav1.StatusReasonForbidden, metav1.StatusReasonInvalid,
	metav1.StatusReasonRequestEntityTooLarge, metav1.StatusReasonUnauthorized}

func validateValidatingAdmissionPolicy(p *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	s := &p.Spec
	if k := s.ParamKind; k != nil {
		errs = append(errs, validateParamKind(k, sp.Child("paramKind"))...)
	}
	if s.MatchConstraints == nil {
		errs = append(errs, field.Required(sp.Child("matchConstraints"), ""))
	} else {
		errs = append(errs, validateMatchResources(s.MatchConstraints, sp.Child("matchConstraints"))...)
		if len(s.MatchConstraints.ResourceRules) == 0 {
			errs = append(errs, field.Required(sp.Child("matchConstraints", "resourceRules"), ""))
		}
	}
	if len(s.Validations) == 0 && len(s.AuditAnnotations) == 0 {
		errs = append(errs, field.Required(sp.Child("validations"), "validations or auditAnnotations must contain at least one item"))
	}
	if s.FailurePolicy == nil {
		errs = append(errs, field.Required(sp.Child("failurePolicy"), ""))
	} else {
		errs = append(errs, oneOf(*s.FailurePolicy, sp.Child("failurePolicy"), admissionregistrationv1.Fail, admissionregistrationv1.Ignore)...)
	}
	errs = append(errs, validateMatchConditions(s.MatchConditions, sp.Child("matchConditions"))...)

	// Expressions must compile, as upstream refuses policies whose CEL does not.
	vars, conds, validations, messages, audits := policy.Compile(s)
	errs = append(errs, validateVariables(s.Variables, vars, sp.Child("variables"))...)
	for i, c := range s.MatchConditions {
		if c.Expression != "" && conds[i].Err != nil {
			errs = append(errs, field.Invalid(sp.Child("matchConditions").Index(i).Child("expression"), c.Expression, conds[i].Err.Error()))
		}
	}
	for i, v := range s.Validations {
		vp := sp.Child("validations").Index(i)
		if strings.TrimSpace(v.Expression) == "" {
			errs = append(errs, field.Required(vp.Child("expression"), "expression is not specified"))
		} else if err := validations[i].Err; err != nil {
			errs = append(errs, field.Invalid(vp.Child("expression"), v.Expression, err.Error()))
		}
		if strings.Contains(v.Message, "\n") {
			errs = append(errs, field.Invalid(vp.Child("message"), v.Message, "message must not contain line breaks"))
		} else if len(v.Message) > 0 && strings.TrimSpace(v.Message) == "" {
			errs = append(errs, field.Invalid(vp.Child("message"), v.Message, "message must be non-empty if specified"))
		}
		if v.MessageExpression != "" {
			if strings.TrimSpace(v.MessageExpression) == "" {
				errs = append(errs, field.Required(vp.Child("messageExpression"), "messageExpression must be non-empty if specified"))
			} else if err := messages[i].Err; err != nil {
				errs = append(errs, field.Invalid(vp.Child("messageExpression"), v.MessageExpression, err.Error()))
			}
		}
		if v.Reason != nil {
			errs = append(errs, oneOf(*v.Reason, vp.Child("reason"), supportedValidationReasons...)...)
		}
	}
	keys := sets.New[string]()
	for i, a := range s.AuditAnnotations {
		ap := sp.Child("auditAnnotations").Index(i)
		if a.Key == "" {
			errs = append(errs, field.Required(ap.Child("key"), ""))
		} else {
			if len(a.Key) > 63 {
				errs = append(errs, field.TooLong(ap.Child("key"), a.Key, 63))
			}
			errs = append(errs, msgs(validation.IsQualifiedName(p.Name+"/"+a.Key), a.Key, ap.Child("key"))...)
			if keys.Has(a.Key) {
				errs = append(errs, field.Duplicate(ap.Child("key"), a.Key))
			}
			keys.Insert(a.Key)
		}
		if strings.TrimSpace(a.ValueExpression) == "" {
			errs = append(errs, field.Required(ap.Child("valueExpression"), "valueExpression is not specified"))
		} else if err := audits[i].Err; err != nil {
			errs = append(errs, field.Invalid(ap.Child("valueExpression"), a.ValueExpression, err.Error()))
		}
	}
	return errs
}

func validateValidatingAdmissionPolicyBinding(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	s := &b.Spec
	errs = append(errs, validateBindingPolicy(s.PolicyName, s.ParamRef, sp)...)
	if s.MatchResources != nil {
		errs = append(errs, validateMatchResources(s.MatchResources, sp.Child("matchResources"))...)
	}
	ap := sp.Child("validationActions")
	if len(s.ValidationActions) == 0 {
		errs = append(errs, field.Required(ap, ""))
	}
	seen := sets.New[admissionregistrationv1.ValidationAction]()
	for i, a := range s.ValidationActions {
		if seen.Has(a) {
			errs = append(errs, field.Duplicate(ap.Index(i), a))
		}
		seen.Insert(a)
		errs = append(errs, oneOf(a, ap.Index(i), admissionregistrationv1.Deny, admissionregistrationv1.Warn, admissionregistrationv1.Audit)...)
	}
	if seen.Has(admissionregistrationv1.Deny) && seen.Has(admissionregistrationv1.Warn) {
		errs = append(errs, field.Invalid(ap, s.ValidationActions,
			"must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	return errs
}

func validateMatchResources(m *admissionregistrationv1.MatchResources, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.MatchPolicy == nil {
		errs = append(errs, field.Required(p.Child("matchPolicy"), ""))
	} else {
		errs = append(errs, oneOf(*m.MatchPolicy, p.Child("matchPolicy"), admissionregistrationv1.Equivalent, admissionregistrationv1.Exact)...)
	}
	opts := metav1validation.LabelSelectorValidationOptions{}
	if m.NamespaceSelector == nil {
		errs = append(errs, field.Required(p.Child("namespaceSelector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(m.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if m.ObjectSelector == nil {
		errs = append(errs, field.Required(p.Child("objectSelector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(m.ObjectSelector, opts, p.Child("objectSelector"))...)
	}
	for name, rules := range map[string][]admissionregistrationv1.NamedRuleWithOperations{"resourceRules": m.ResourceRules, "excludeResourceRules": m.ExcludeResourceRules} {
		for i, r := range rules {
			rp := p.Child(name).Index(i)
			errs = append(errs, validateRuleWithOperations(&r.RuleWithOperations, rp)...)
			names := sets.New[string]()
			for j, n := range r.ResourceNames {
				errs = append(errs, dns1123Subdomain(n, rp.Child("resourceNames").Index(j))...)
				if names.Has(n) {
					errs = append(errs, field.Duplicate(rp.Child("resourceNames").Index(j), n))
				}
				names.Insert(n)
			}
		}
	}
	return errs
}

// validateMatchConditions: names (qualified, unique) and expressions required, at most 64.
func validateMatchConditions(conds []admissionregistrationv1.MatchCondition, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, mc := range conds {
		mp := p.Index(i)
		if mc.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else {
			errs = append(errs, qualifiedName(mc.Name, mp.Child("name"))...)
			if names.Has(mc.Name) {
				errs = append(errs, field.Duplicate(mp.Child("name"), mc.Name))
			}
			names.Insert(mc.Name)
		}
		if mc.Expression == "" {
			errs = append(errs, field.Required(mp.Child("expression"), ""))
		}
	}
	if len(conds) > 64 {
		errs = append(errs, field.TooMany(p, len(conds), 64))
	}
	return errs
}

// validateParamKind: apiVersion and kind required and well formed.
func validateParamKind(k *admissionregistrationv1.ParamKind, kp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if k.APIVersion == "" {
		errs = append(errs, field.Required(kp.Child("apiVersion"), ""))
	} else if gv, err := schema.ParseGroupVersion(k.APIVersion); err != nil {
		errs = append(errs, field.Invalid(kp.Child("apiVersion"), k.APIVersion, err.Error()))
	} else if gv.Group != "" {
		errs = append(errs, msgs(validation.IsDNS1123Subdomain(gv.Group), k.APIVersion, kp.Child("apiVersion"))...)
	}
	if k.Kind == "" {
		errs = append(errs, field.Required(kp.Child("kind"), ""))
	} else {
		errs = append(errs, msgs(validation.IsDNS1035Label(strings.ToLower(k.Kind)), k.Kind, kp.Child("kind"))...)
	}
	return errs
}

// validateParamRef: name or selector (not both), namespace, parameterNotFoundAction required.
func validateParamRef(r *admissionregistrationv1.ParamRef, rp *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case r.Name != "" && r.Selector != nil:
		errs = append(errs, field.Forbidden(rp.Child("name"), "name and selector are mutually exclusive"))
	case r.Name == "" && r.Selector == nil:
		errs = append(errs, field.Required(rp, "one of name or selector must be specified"))
	case r.Name != "":
		errs = append(errs, dns1123Subdomain(r.Name, rp.Child("name"))...)
	default:
		errs = append(errs, metav1validation.ValidateLabelSelector(r.Selector, metav1validation.LabelSelectorValidationOptions{}, rp.Child("selector"))...)
	}
	if r.Namespace != "" {
		errs = append(errs, msgs(validation.IsDNS1123Label(r.Namespace), r.Namespace, rp.Child("namespace"))...)
	}
	if r.ParameterNotFoundAction == nil {
		errs = append(errs, field.Required(rp.Child("parameterNotFoundAction"), ""))
	} else {
		errs = append(errs, oneOf(*r.ParameterNotFoundAction, rp.Child("parameterNotFoundAction"), admissionregistrationv1.DenyAction, admissionregistrationv1.AllowAction)...)
	}
	return errs
}

// validateVariables: names unique CEL identifiers, expressions that compile.
func validateVariables(vs []admissionregistrationv1.Variable, vars *policy.Variables, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, v := range vs {
		vp := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case !celIdentifier.MatchString(v.Name):
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, "name is not a valid CEL identifier"))
		case names.Has(v.Name):
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		}
		names.Insert(v.Name)
		if v.Expression == "" {
			errs = append(errs, field.Required(vp.Child("expression"), ""))
		} else if err := vars.Exprs[i].Err; err != nil {
			errs = append(errs, field.Invalid(vp.Child("expression"), v.Expression, err.Error()))
		}
	}
	return errs
}

// validateBindingPolicy checks what both kinds of policy binding have: spec.policyName and spec.paramRef.
func validateBindingPolicy(policyName string, ref *admissionregistrationv1.ParamRef, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if policyName == "" {
		errs = append(errs, field.Required(sp.Child("policyName"), ""))
	} else {
		errs = append(errs, dns1123Subdomain(policyName, sp.Child("policyName"))...)
	}
	if ref != nil {
		errs = append(errs, validateParamRef(ref, sp.Child("paramRef"))...)
	}
	return errs
}
