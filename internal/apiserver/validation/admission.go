package validation

import (
	"fmt"
	"net/url"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var acceptedAdmissionReviewVersions = []string{"v1", "v1beta1"}

// webhook is what validating and mutating hooks have in common.
type webhook struct {
	name                    string
	clientConfig            admissionregistrationv1.WebhookClientConfig
	rules                   []admissionregistrationv1.RuleWithOperations
	failurePolicy           *admissionregistrationv1.FailurePolicyType
	matchPolicy             *admissionregistrationv1.MatchPolicyType
	namespaceSelector       *metav1.LabelSelector
	objectSelector          *metav1.LabelSelector
	sideEffects             *admissionregistrationv1.SideEffectClass
	timeoutSeconds          *int32
	admissionReviewVersions []string
	matchConditions         []admissionregistrationv1.MatchCondition
}

func validateWebhooks(hooks []webhook, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, h := range hooks {
		hp := p.Index(i)
		errs = append(errs, validateWebhook(h, hp)...)
		errs = append(errs, validateAdmissionReviewVersions(h.admissionReviewVersions, hp.Child("admissionReviewVersions"))...)
		if h.name != "" {
			if names.Has(h.name) {
				errs = append(errs, field.Duplicate(hp.Child("name"), h.name))
			}
			names.Insert(h.name)
		}
	}
	return errs
}

func validateWebhook(h webhook, p *field.Path) field.ErrorList {
	// Names must be fully qualified (e.g. pod-policy.example.com) so that
	// hooks from different vendors do not collide.
	errs := validation.IsFullyQualifiedName(p.Child("name"), h.name)
	for i, r := range h.rules {
		errs = append(errs, validateRuleWithOperations(&r, p.Child("rules").Index(i))...)
	}
	if h.failurePolicy != nil {
		errs = append(errs, oneOf(*h.failurePolicy, p.Child("failurePolicy"), admissionregistrationv1.Fail, admissionregistrationv1.Ignore)...)
	}
	if h.matchPolicy != nil {
		errs = append(errs, oneOf(*h.matchPolicy, p.Child("matchPolicy"), admissionregistrationv1.Equivalent, admissionregistrationv1.Exact)...)
	}
	// v1 requires webhooks to declare whether dry-run requests are safe.
	noSideEffects := []admissionregistrationv1.SideEffectClass{admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.SideEffectClassNoneOnDryRun}
	if h.sideEffects == nil {
		errs = append(errs, field.Required(p.Child("sideEffects"), "must specify one of None, NoneOnDryRun"))
	} else {
		errs = append(errs, oneOf(*h.sideEffects, p.Child("sideEffects"), noSideEffects...)...)
	}
	if t := h.timeoutSeconds; t != nil && (*t > 30 || *t < 1) {
		errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), *t, "the timeout value must be between 1 and 30 seconds"))
	}
	opts := metav1validation.LabelSelectorValidationOptions{}
	if h.namespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(h.namespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if h.objectSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(h.objectSelector, opts, p.Child("objectSelector"))...)
	}
	cc := h.clientConfig
	cp := p.Child("clientConfig")
	switch {
	case (cc.URL == nil) == (cc.Service == nil):
		errs = append(errs, field.Required(cp, "exactly one of url or service is required"))
	case cc.URL != nil:
		errs = append(errs, validateWebhookURL(cp.Child("url"), *cc.URL)...)
	default:
		port := int32(443)
		if cc.Service.Port != nil {
			port = *cc.Service.Port
		}
		errs = append(errs, validateWebhookService(cp.Child("service"), cc.Service.Namespace, cc.Service.Name, cc.Service.Path, port)...)
	}
	names := sets.New[string]()
	for i, mc := range h.matchConditions {
		mp := p.Child("matchConditions").Index(i)
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
	if len(h.matchConditions) > 64 {
		errs = append(errs, field.TooMany(p.Child("matchConditions"), len(h.matchConditions), 64))
	}
	return errs
}

var supportedOperations = []admissionregistrationv1.OperationType{admissionregistrationv1.OperationAll,
	admissionregistrationv1.Connect, admissionregistrationv1.Create, admissionregistrationv1.Delete, admissionregistrationv1.Update}

func validateRuleWithOperations(r *admissionregistrationv1.RuleWithOperations, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	op := p.Child("operations")
	if len(r.Operations) == 0 {
		errs = append(errs, field.Required(op, ""))
	}
	if len(r.Operations) > 1 {
		for _, o := range r.Operations {
			if o == admissionregistrationv1.OperationAll {
				errs = append(errs, field.Invalid(op, r.Operations, "if '*' is present, must not specify other operations"))
				break
			}
		}
	}
	for i, o := range r.Operations {
		errs = append(errs, oneOf(o, op.Index(i), supportedOperations...)...)
	}
	if len(r.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), ""))
	}
	if len(r.APIGroups) > 1 && hasWildcard(r.APIGroups) {
		errs = append(errs, field.Invalid(p.Child("apiGroups"), r.APIGroups, "if '*' is present, must not specify other API groups"))
	}
	if len(r.APIVersions) == 0 {
		errs = append(errs, field.Required(p.Child("apiVersions"), ""))
	}
	if len(r.APIVersions) > 1 && hasWildcard(r.APIVersions) {
		errs = append(errs, field.Invalid(p.Child("apiVersions"), r.APIVersions, "if '*' is present, must not specify other API versions"))
	}
	for i, v := range r.APIVersions {
		if v == "" {
			errs = append(errs, field.Required(p.Child("apiVersions").Index(i), ""))
		}
	}
	errs = append(errs, validateRuleResources(r.Resources, p.Child("resources"))...)
	if r.Scope != nil {
		errs = append(errs, oneOf(*r.Scope, p.Child("scope"), admissionregistrationv1.AllScopes, admissionregistrationv1.ClusterScope, admissionregistrationv1.NamespacedScope)...)
	}
	return errs
}

// validateRuleResources: "resource", "resource/subresource", "*",
// "*/subresource", "resource/*" and "*/*"; wildcards may not overlap with
// explicit entries.
func validateRuleResources(resources []string, p *field.Path) field.ErrorList {
	if len(resources) == 0 {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	subs := map[string]sets.Set[string]{}
	for i, r := range resources {
		if r == "" {
			errs = append(errs, field.Required(p.Index(i), ""))
			continue
		}
		if r == "*/*" && len(resources) > 1 {
			errs = append(errs, field.Invalid(p, resources, "if '*/*' is present, must not specify other resources"))
		}
		if r == "*" && len(resources) > 1 {
			errs = append(errs, field.Invalid(p, resources, "if '*' is present, must not specify other resources without subresources"))
		}
		parts := strings.SplitN(r, "/", 2)
		res, sub := parts[0], ""
		if len(parts) == 2 {
			sub = parts[1]
		}
		if subs[res] == nil {
			subs[res] = sets.New[string]()
		}
		if subs[res].Has(sub) {
			errs = append(errs, field.Duplicate(p.Index(i), r))
		}
		subs[res].Insert(sub)
	}
	return errs
}

func validateAdmissionReviewVersions(versions []string, p *field.Path) field.ErrorList {
	if len(versions) == 0 {
		return field.ErrorList{field.Required(p, fmt.Sprintf("must specify one of %v", strings.Join(acceptedAdmissionReviewVersions, ", ")))}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	accepted := false
	for i, v := range versions {
		if seen[v] {
			errs = append(errs, field.Invalid(p.Index(i), v, "duplicate version"))
			continue
		}
		seen[v] = true
		errs = append(errs, msgs(validation.IsDNS1035Label(v), v, p.Index(i))...)
		accepted = accepted || v == "v1" || v == "v1beta1"
	}
	// The server must be able to talk to the webhook in some version.
	if !accepted {
		errs = append(errs, field.Invalid(p, versions, fmt.Sprintf("must include at least one of %v", strings.Join(acceptedAdmissionReviewVersions, ", "))))
	}
	return errs
}

func validateWebhookURL(p *field.Path, raw string) field.ErrorList {
	const form = "; desired format: https://host[/path]"
	u, err := url.Parse(raw)
	if err != nil {
		return field.ErrorList{field.Required(p, "url must be a valid URL: "+err.Error()+form)}
	}
	var errs field.ErrorList
	if u.Scheme != "https" {
		errs = append(errs, field.Invalid(p, u.Scheme, "'https' is the only allowed URL scheme"+form))
	}
	if u.Host == "" {
		errs = append(errs, field.Invalid(p, u.Host, "host must be specified"+form))
	}
	if u.User != nil {
		errs = append(errs, field.Invalid(p, u.User.String(), "user information is not permitted in the URL"))
	}
	if u.Fragment != "" {
		errs = append(errs, field.Invalid(p, u.Fragment, "fragments are not permitted in the URL"))
	}
	if u.RawQuery != "" {
		errs = append(errs, field.Invalid(p, u.RawQuery, "query parameters are not permitted in the URL"))
	}
	return errs
}

func validateWebhookService(p *field.Path, namespace, n string, path *string, port int32) field.ErrorList {
	var errs field.ErrorList
	if n == "" {
		errs = append(errs, field.Required(p.Child("name"), "service name is required"))
	}
	if namespace == "" {
		errs = append(errs, field.Required(p.Child("namespace"), "service namespace is required"))
	}
	if m := validation.IsValidPortNum(int(port)); m != nil {
		errs = append(errs, field.Invalid(p.Child("port"), port, "port is not valid: "+strings.Join(m, ", ")))
	}
	if path == nil || *path == "" || *path == "/" {
		return errs
	}
	pp := p.Child("path")
	if *path == "//" {
		return append(errs, field.Invalid(pp, *path, "segment[0] may not be empty"))
	}
	if !strings.HasPrefix(*path, "/") {
		errs = append(errs, field.Invalid(pp, *path, "must start with a '/'"))
	}
	check := strings.TrimSuffix(strings.TrimPrefix(*path, "/"), "/")
	for i, step := range strings.Split(check, "/") {
		if step == "" {
			errs = append(errs, field.Invalid(pp, *path, fmt.Sprintf("segment[%d] may not be empty", i)))
			continue
		}
		for _, f := range validation.IsDNS1123Subdomain(step) {
			errs = append(errs, field.Invalid(pp, *path, fmt.Sprintf("segment[%d]: %v", i, f)))
		}
	}
	return errs
}

func validateValidatingWebhookConfiguration(c *admissionregistrationv1.ValidatingWebhookConfiguration) field.ErrorList {
	hooks := make([]webhook, len(c.Webhooks))
	for i, h := range c.Webhooks {
		hooks[i] = webhook{h.Name, h.ClientConfig, h.Rules, h.FailurePolicy, h.MatchPolicy, h.NamespaceSelector,
			h.ObjectSelector, h.SideEffects, h.TimeoutSeconds, h.AdmissionReviewVersions, h.MatchConditions}
	}
	return validateWebhooks(hooks, field.NewPath("webhooks"))
}

func validateMutatingWebhookConfiguration(c *admissionregistrationv1.MutatingWebhookConfiguration) field.ErrorList {
	hooks := make([]webhook, len(c.Webhooks))
	var errs field.ErrorList
	for i, h := range c.Webhooks {
		hooks[i] = webhook{h.Name, h.ClientConfig, h.Rules, h.FailurePolicy, h.MatchPolicy, h.NamespaceSelector,
			h.ObjectSelector, h.SideEffects, h.TimeoutSeconds, h.AdmissionReviewVersions, h.MatchConditions}
		if rp := h.ReinvocationPolicy; rp != nil {
			errs = append(errs, oneOf(*rp, field.NewPath("webhooks").Index(i).Child("reinvocationPolicy"),
				admissionregistrationv1.IfNeededReinvocationPolicy, admissionregistrationv1.NeverReinvocationPolicy)...)
		}
	}
	return append(validateWebhooks(hooks, field.NewPath("webhooks")), errs...)
}
