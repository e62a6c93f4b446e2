// Package match decides whether an admission request falls under a webhook's or an admission policy's
// rules and selectors (admissionregistration.k8s.io semantics), shared by webhooks and policies.
package match

import (
	"context"
	"strings"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/admission"
)

// Rules: does any rule cover the request (operation, group, version, resource/subresource, scope)?
// matchPolicy Equivalent is simplified to Exact: the request's own group/version/resource must be listed.
func Rules(rules []admissionregv1.RuleWithOperations, a *admission.Attributes) bool {
	for _, r := range rules {
		if Rule(r, a) {
			return true
		}
	}
	return false
}

func Rule(r admissionregv1.RuleWithOperations, a *admission.Attributes) bool {
	opOK := false
	for _, op := range r.Operations {
		if op == admissionregv1.OperationAll || string(op) == a.Operation {
			opOK = true
			break
		}
	}
	return opOK && listed(r.APIGroups, a.Resource.Group) && listed(r.APIVersions, a.Resource.Version) &&
		resourceListed(r.Resources, a.Resource.Resource, a.Subresource) && scopeOK(r.Scope, a)
}

func listed(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

// resourceListed follows upstream: "pods" is the main resource only, "pods/status" one subresource, "pods/*"
// pods and all its subresources, "*" every main resource, "*/status" every status subresource, "*/*" all.
func resourceListed(list []string, res, sub string) bool {
	for _, x := range list {
		name, xsub, hasSub := strings.Cut(x, "/")
		if name != "*" && name != res {
			continue
		}
		switch {
		case !hasSub && sub == "":
			return true
		case hasSub && (xsub == "*" || xsub == sub):
			return true
		}
	}
	return false
}

// scopeOK: Namespace objects are cluster-scoped (their subresources count by namespace attribute, as upstream).
func scopeOK(scope *admissionregv1.ScopeType, a *admission.Attributes) bool {
	if scope == nil || *scope == admissionregv1.AllScopes {
		return true
	}
	isNS := a.Resource.Group == "" && a.Resource.Resource == "namespaces" && a.Subresource == ""
	switch *scope {
	case admissionregv1.NamespacedScope:
		return !isNS && a.Namespace != ""
	case admissionregv1.ClusterScope:
		return isNS || a.Namespace == ""
	}
	return false
}

// ObjectSelector: the new or the old object's labels match (an empty selector matches everything).
func ObjectSelector(sel *metav1.LabelSelector, a *admission.Attributes) (bool, error) {
	s, err := Selector(sel)
	if err != nil {
		return false, err
	}
	if s.Empty() {
		return true, nil
	}
	return objLabelsMatch(s, a.Object) || objLabelsMatch(s, a.OldObject), nil
}

func objLabelsMatch(s labels.Selector, obj runtime.Object) bool {
	if obj == nil {
		return false
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(acc.GetLabels()))
}

func Selector(sel *metav1.LabelSelector) (labels.Selector, error) {
	if sel == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(sel)
}

// NamespaceGetter returns a namespace (from a cache, falling back to the API).
type NamespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

// NamespaceSelector: cluster-scoped requests other than for Namespaces match; a Namespace is judged by its
// own labels (the old ones on delete); anything else by its namespace's labels.
func NamespaceSelector(ctx context.Context, sel *metav1.LabelSelector, a *admission.Attributes, get NamespaceGetter) (bool, error) {
	s, err := Selector(sel)
	if err != nil {
		return false, err
	}
	if s.Empty() {
		return true, nil
	}
	if a.Resource.Group == "" && a.Resource.Resource == "namespaces" {
		obj := a.Object
		if obj == nil {
			obj = a.OldObject
		}
		return objLabelsMatch(s, obj), nil
	}
	if a.Namespace == "" {
		return true, nil
	}
	ns, err := get(ctx, a.Namespace)
	if err != nil {
		// Upstream answers 404 when the namespace does not exist.
		return false, err
	}
	return s.Matches(labels.Set(ns.Labels)), nil
}

// Exempt: writes of admission configuration itself never go to webhooks, so a broken webhook cannot lock
// out its own repair (as upstream).
func Exempt(a *admission.Attributes) bool {
	if a.Resource.Group != admissionregv1.GroupName {
		return false
	}
	switch a.Resource.Resource {
	case "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "validatingadmissionpolicies",
		"validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings":
		return true
	}
	return false
}
