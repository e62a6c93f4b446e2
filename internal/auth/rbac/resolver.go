package rbac

import (
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"

	"skiff/internal/auth"
)

// Resolver finds the rules that apply to a user, from listers of the four RBAC kinds.
type Resolver struct {
	Roles               rbaclisters.RoleLister
	ClusterRoles        rbaclisters.ClusterRoleLister
	RoleBindings        rbaclisters.RoleBindingLister
	ClusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// visitor gets each rule that applies, with a description of where it comes from, or an error (a missing
// role); returning false stops the walk.
type visitor func(source string, rule *rbacv1.PolicyRule, err error) bool

// VisitRulesFor walks the rules of every ClusterRoleBinding and, when namespace is set, every RoleBinding of
// that namespace whose subjects name the user.
func (r *Resolver) VisitRulesFor(u *auth.User, namespace string, visit visitor) {
	if u == nil {
		return
	}
	crbs, err := r.ClusterRoleBindings.List(labels.Everything())
	if err != nil && !visit("", nil, err) {
		return
	}
	for _, b := range crbs {
		subj, ok := matchingSubject(u, b.Subjects, "")
		if !ok {
			continue
		}
		rules, err := r.RoleRefRules(b.RoleRef, "")
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		src := fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(subj, ""))
		for i := range rules {
			if !visit(src, &rules[i], nil) {
				return
			}
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := r.RoleBindings.RoleBindings(namespace).List(labels.Everything())
	if err != nil && !visit("", nil, err) {
		return
	}
	for _, b := range rbs {
		subj, ok := matchingSubject(u, b.Subjects, namespace)
		if !ok {
			continue
		}
		rules, err := r.RoleRefRules(b.RoleRef, namespace)
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		src := fmt.Sprintf("RoleBinding %q of %s %q to %s", b.Name+"/"+namespace, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(subj, namespace))
		for i := range rules {
			if !visit(src, &rules[i], nil) {
				return
			}
		}
	}
}

// RulesFor returns every rule that applies to the user in namespace (cluster-wide ones included), and the
// errors met on the way (rules of missing roles are left out).
func (r *Resolver) RulesFor(u *auth.User, namespace string) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	r.VisitRulesFor(u, namespace, func(_ string, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			rules = append(rules, *rule)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return rules, errors.Join(errs...)
}

// RoleRefRules returns the rules of the role a binding refers to; a Role is looked up in the binding's namespace.
func (r *Resolver) RoleRefRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		role, err := r.Roles.Roles(namespace).Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	case "ClusterRole":
		role, err := r.ClusterRoles.Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

func matchingSubject(u *auth.User, subjects []rbacv1.Subject, namespace string) (rbacv1.Subject, bool) {
	for _, s := range subjects {
		if appliesTo(u, s, namespace) {
			return s, true
		}
	}
	return rbacv1.Subject{}, false
}

// describeSubject names a subject as upstream's reasons do: User "alice", ServiceAccount "default/ns".
func describeSubject(s rbacv1.Subject, namespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = namespace
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}
