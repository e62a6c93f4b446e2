package rbac

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/auth"
)

// Authorizer is the RBAC link of the authorizer chain. It has no opinion until its listers have synced (the API
// server cannot list itself before it serves), and never denies: what no rule allows is left to the chain.
type Authorizer struct {
	resolver atomic.Pointer[Resolver]
}

var _ auth.Authorizer = (*Authorizer)(nil)

// NewAuthorizer returns an authorizer that answers once Start or SetResolver gave it its listers.
func NewAuthorizer() *Authorizer { return &Authorizer{} }

// Start builds informers over the four RBAC kinds with client and, once they have synced, starts answering.
// It returns at once; the informers run until ctx ends.
func (z *Authorizer) Start(ctx context.Context, client kubernetes.Interface) {
	f := informers.NewSharedInformerFactory(client, 0)
	rb := f.Rbac().V1()
	r := &Resolver{Roles: rb.Roles().Lister(), ClusterRoles: rb.ClusterRoles().Lister(),
		RoleBindings: rb.RoleBindings().Lister(), ClusterRoleBindings: rb.ClusterRoleBindings().Lister()}
	f.Start(ctx.Done())
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), rb.Roles().Informer().HasSynced, rb.ClusterRoles().Informer().HasSynced,
			rb.RoleBindings().Informer().HasSynced, rb.ClusterRoleBindings().Informer().HasSynced) {
			z.SetResolver(r)
		}
	}()
}

// SetResolver makes the authorizer answer from r.
func (z *Authorizer) SetResolver(r *Resolver) { z.resolver.Store(r) }

// Resolver returns the rule resolver, or nil before the listers have synced.
func (z *Authorizer) Resolver() *Resolver { return z.resolver.Load() }

// Authorize implements auth.Authorizer.
func (z *Authorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	r := z.resolver.Load()
	if r == nil {
		return auth.DecisionNoOpinion, "", nil
	}
	allowedBy := ""
	var errs []error
	r.VisitRulesFor(a.User, a.Namespace, func(source string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
			return true
		}
		if RuleAllows(a, rule) {
			allowedBy = source
			return false
		}
		return true
	})
	if allowedBy != "" {
		return auth.DecisionAllow, "RBAC: allowed by " + allowedBy, nil
	}
	if len(errs) > 0 {
		return auth.DecisionNoOpinion, fmt.Sprintf("RBAC: %v", joinErrors(errs)), nil
	}
	return auth.DecisionNoOpinion, "", nil
}

// joinErrors formats errors as upstream's aggregate: one alone, several in brackets.
func joinErrors(errs []error) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

// RulesFor lists the user's rules in namespace (cluster-wide ones included), for SelfSubjectRulesReview and
// `kubectl auth can-i --list`.
func (z *Authorizer) RulesFor(u *auth.User, namespace string) ([]rbacv1.PolicyRule, error) {
	r := z.resolver.Load()
	if r == nil {
		return nil, fmt.Errorf("RBAC is not ready yet")
	}
	return r.RulesFor(u, namespace)
}
