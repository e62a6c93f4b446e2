package printers

import (
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// admissionregistration.k8s.io/v1: webhook configurations and admission
// policies with their bindings.

func init() {
	register(webhookColumns, func(c *admissionregistrationv1.MutatingWebhookConfiguration, now time.Time) []any {
		return []any{c.Name, int64(len(c.Webhooks)), age(c.CreationTimestamp, now)}
	})
	register(webhookColumns, func(c *admissionregistrationv1.ValidatingWebhookConfiguration, now time.Time) []any {
		return []any{c.Name, int64(len(c.Webhooks)), age(c.CreationTimestamp, now)}
	})
	register(validatingPolicyColumns, func(p *admissionregistrationv1.ValidatingAdmissionPolicy, now time.Time) []any {
		return []any{p.Name, int64(len(p.Spec.Validations)), paramKind(p.Spec.ParamKind), age(p.CreationTimestamp, now)}
	})
	register(mutatingPolicyColumns, func(p *admissionregistrationv1.MutatingAdmissionPolicy, now time.Time) []any {
		return []any{p.Name, int64(len(p.Spec.Mutations)), paramKind(p.Spec.ParamKind), age(p.CreationTimestamp, now)}
	})
	register(policyBindingColumns, func(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, now time.Time) []any {
		var ref *paramRefView
		if r := b.Spec.ParamRef; r != nil {
			ref = &paramRefView{name: r.Name, namespace: r.Namespace, selector: r.Selector}
		}
		return []any{b.Name, b.Spec.PolicyName, ref.String(), age(b.CreationTimestamp, now)}
	})
	register(policyBindingColumns, func(b *admissionregistrationv1.MutatingAdmissionPolicyBinding, now time.Time) []any {
		var ref *paramRefView
		if r := b.Spec.ParamRef; r != nil {
			ref = &paramRefView{name: r.Name, namespace: r.Namespace, selector: r.Selector}
		}
		return []any{b.Name, b.Spec.PolicyName, ref.String(), age(b.CreationTimestamp, now)}
	})
}

var webhookColumns = cols(
	nameColumn(),
	column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
	ageColumn(),
)

var validatingPolicyColumns = cols(
	nameColumn(),
	column("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration"),
	column("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
	ageColumn(),
)

var mutatingPolicyColumns = cols(
	nameColumn(),
	column("Mutations", "integer", "Mutation indicates the number of mutations rules defined in this configuration"),
	column("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
	ageColumn(),
)

var policyBindingColumns = cols(
	nameColumn(),
	column("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
	column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
	ageColumn(),
)

func paramKind(pk *admissionregistrationv1.ParamKind) string {
	if pk == nil {
		return unset
	}
	return pk.APIVersion + "/" + pk.Kind
}

// paramRefView is the part of a binding's paramRef that is printed.
type paramRefView struct {
	name, namespace string
	selector        *metav1.LabelSelector
}

// String renders "namespace/name"; a name without namespace may be cluster
// scoped or in any namespace, so it is shown as "*/name".
func (r *paramRefView) String() string {
	switch {
	case r == nil:
		return unset
	case r.name != "" && r.namespace != "":
		return r.namespace + "/" + r.name
	case r.name != "":
		return "*/" + r.name
	case r.selector != nil:
		return r.selector.String()
	}
	return unset
}
