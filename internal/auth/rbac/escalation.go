package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

// Escalation refuses writes of roles and bindings that would grant more than the writer holds, as upstream's
// RBAC storage does ("you cannot grant what you do not have"):
//   - a Role or ClusterRole whose rules the writer's own RBAC rules (in that namespace) do not cover, unless the
//     writer may `escalate` roles/clusterroles; an aggregationRule needs `escalate` too;
//   - a RoleBinding or ClusterRoleBinding to a role whose rules the writer does not hold, unless it may `bind`
//     that role.
//
// system:masters may do anything. It is an admission validator, so it runs on create, update, patch and apply.
type Escalation struct {
	// Authorizer answers the escalate and bind checks (the server's whole chain).
	Authorizer auth.Authorizer
	// RBAC resolves the writer's rules.
	RBAC *Authorizer
}

var _ admission.Validator = (*Escalation)(nil)

// Validate implements admission.Validator.
func (e *Escalation) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Resource.Group != rbacv1.GroupName || a.Subresource != "" || (a.Operation != admission.Create && a.Operation != admission.Update) {
		return nil
	}
	if a.User != nil && slices.Contains(a.User.Groups, auth.GroupMasters) {
		return nil
	}
	gr := a.Resource.GroupResource()
	switch obj := a.Object.(type) {
	case *rbacv1.Role:
		if old, ok := a.OldObject.(*rbacv1.Role); ok && apiequality.Semantic.DeepEqual(old.Rules, obj.Rules) {
			return nil
		}
		return e.checkRole(ctx, a, gr, obj.Rules, false)
	case *rbacv1.ClusterRole:
		if old, ok := a.OldObject.(*rbacv1.ClusterRole); ok && apiequality.Semantic.DeepEqual(old.Rules, obj.Rules) &&
			apiequality.Semantic.DeepEqual(old.AggregationRule, obj.AggregationRule) {
			return nil
		}
		return e.checkRole(ctx, a, gr, obj.Rules, obj.AggregationRule != nil)
	case *rbacv1.RoleBinding:
		return e.checkBinding(ctx, a, gr, obj.RoleRef, a.Namespace)
	case *rbacv1.ClusterRoleBinding:
		return e.checkBinding(ctx, a, gr, obj.RoleRef, "")
	}
	return nil
}

func (e *Escalation) checkRole(ctx context.Context, a *admission.Attributes, gr schema.GroupResource, rules []rbacv1.PolicyRule, aggregated bool) error {
	if e.allowed(ctx, a.User, "escalate", gr.Resource, a.Namespace, a.Name) {
		return nil
	}
	if aggregated {
		return apierrors.NewForbidden(gr, a.Name, fmt.Errorf("must have cluster-admin privileges to use the aggregationRule"))
	}
	if err := e.confirmNoEscalation(a.User, a.Namespace, rules); err != nil {
		return apierrors.NewForbidden(gr, a.Name, err)
	}
	return nil
}

func (e *Escalation) checkBinding(ctx context.Context, a *admission.Attributes, gr schema.GroupResource, ref rbacv1.RoleRef, namespace string) error {
	resource := "roles"
	if ref.Kind == "ClusterRole" {
		resource = "clusterroles"
	}
	if ref.APIGroup == rbacv1.GroupName && e.allowed(ctx, a.User, "bind", resource, namespace, ref.Name) {
		return nil
	}
	r := e.RBAC.Resolver()
	if r == nil {
		return apierrors.NewForbidden(gr, a.Name, fmt.Errorf("RBAC is not ready yet"))
	}
	rules, err := r.RoleRefRules(ref, namespace)
	if err != nil {
		return apierrors.NewForbidden(gr, a.Name, err)
	}
	if err := e.confirmNoEscalation(a.User, namespace, rules); err != nil {
		return apierrors.NewForbidden(gr, a.Name, err)
	}
	return nil
}

func (e *Escalation) allowed(ctx context.Context, u *auth.User, verb, resource, namespace, name string) bool {
	d, _, err := e.Authorizer.Authorize(ctx, auth.Attributes{User: u, Verb: verb, APIGroup: rbacv1.GroupName, APIVersion: "v1",
		Resource: resource, Namespace: namespace, Name: name, ResourceRequest: true})
	return err == nil && d == auth.DecisionAllow
}

// confirmNoEscalation fails unless the user's RBAC rules in namespace cover rules, with upstream's message.
func (e *Escalation) confirmNoEscalation(u *auth.User, namespace string, rules []rbacv1.PolicyRule) error {
	if u == nil {
		return fmt.Errorf("no user on request")
	}
	r := e.RBAC.Resolver()
	if r == nil {
		return fmt.Errorf("RBAC is not ready yet")
	}
	owned, resolveErr := r.RulesFor(u, namespace)
	ok, missing := Covers(owned, rules)
	if ok {
		return nil
	}
	lines := compact(missing)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.Name, u.Groups, strings.Join(lines, "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", resolveErr)
	}
	return fmt.Errorf("%s", msg)
}

// compact merges single-verb rules that differ only in verb and prints each as upstream's CompactString, sorted.
func compact(rules []rbacv1.PolicyRule) []string {
	type key struct{ group, resource, name, url string }
	var order []key
	verbsOf := map[key][]string{}
	for _, r := range rules {
		k := key{first(r.APIGroups), first(r.Resources), first(r.ResourceNames), first(r.NonResourceURLs)}
		if _, ok := verbsOf[k]; !ok {
			order = append(order, k)
		}
		for _, v := range r.Verbs {
			if !slices.Contains(verbsOf[k], v) {
				verbsOf[k] = append(verbsOf[k], v)
			}
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		r := rbacv1.PolicyRule{Verbs: verbsOf[k]}
		if k.url != "" {
			r.NonResourceURLs = []string{k.url}
		} else {
			r.APIGroups, r.Resources = []string{k.group}, []string{k.resource}
			if k.name != "" {
				r.ResourceNames = []string{k.name}
			}
		}
		out = append(out, CompactString(r))
	}
	slices.Sort(out)
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// CompactString prints a rule as upstream does in RBAC messages: {APIGroups:[""], Resources:["pods"], Verbs:["get"]}.
func CompactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, v))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("ResourceNames", r.ResourceNames)
	add("NonResourceURLs", r.NonResourceURLs)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
