package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NameValidator returns the metadata.name rule for the kind: DNS-1123 label
// (Namespace, StatefulSet), DNS-1035 label (Service), path segment (RBAC
// roles and bindings, core/v1 Events, CertificateSigningRequests, ...) or
// DNS-1123 subdomain (most kinds, and every kind it does not know, as for
// custom resources). prefix is true when the name is a generateName prefix,
// which may end in a dash.
func NameValidator(gvk schema.GroupVersionKind) func(name string, prefix bool) []string {
	if fn, ok := nameRules[gvk.GroupKind()]; ok {
		return fn
	}
	return apimachineryvalidation.NameIsDNSSubdomain
}

var nameRules = map[schema.GroupKind]func(string, bool) []string{
	{Group: "", Kind: "Namespace"}: apimachineryvalidation.ValidateNamespaceName,
	// Service names become DNS labels that must start with a letter.
	{Group: "", Kind: "Service"}: apimachineryvalidation.NameIsDNS1035Label,
	// core/v1 Events only get the generic rule every object passes.
	{Group: "", Kind: "Event"}: path.ValidatePathSegmentName,
	// A StatefulSet's name is the prefix of its pods' hostnames.
	{Group: "apps", Kind: "StatefulSet"}: apimachineryvalidation.NameIsDNSLabel,
	{Group: "batch", Kind: "CronJob"}:    cronJobName,
	// RBAC names are only required to be usable in a URL path.
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:                path.ValidatePathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:         path.ValidatePathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:         path.ValidatePathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:  path.ValidatePathSegmentName,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}: path.ValidatePathSegmentName,
	{Group: "networking.k8s.io", Kind: "IPAddress"}:                   ipAddressName,
}

// cronJobName leaves room for the 11-character "-<timestamp>" suffix the
// controller appends to Job names, which are limited to 63 characters.
func cronJobName(name string, prefix bool) []string {
	errs := apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
	if len(name) > validation.DNS1035LabelMaxLength-11 {
		errs = append(errs, "must be no more than 52 characters")
	}
	return errs
}

// ipAddressName requires the canonical form of an IP address.
func ipAddressName(name string, _ bool) []string {
	var out []string
	for _, e := range validation.IsValidIP(&field.Path{}, name) {
		out = append(out, e.Detail)
	}
	return out
}
