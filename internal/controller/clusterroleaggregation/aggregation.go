// Package clusterroleaggregation fills the rules of ClusterRoles that have an aggregationRule with the rules of
// every ClusterRole their selectors match, as upstream's clusterrole-aggregation controller. This is how admin,
// edit and view pick up the rules of system:aggregate-to-* and of any role a user labels aggregate-to-view.
//
//	any ClusterRole changes ─▶ enqueue every aggregated ClusterRole ─▶ union of the matched roles' rules
//	(selectors in order, roles by name, duplicates dropped) ─▶ UPDATE when it differs
package clusterroleaggregation

import (
	"context"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

type controller struct {
	client kubernetes.Interface
	roles  rbaclisters.ClusterRoleLister
	queue  workqueue.TypedRateLimitingInterface[string]
}

// Start registers the controller on the shared ClusterRole informer and starts its worker.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	inf := factory.Rbac().V1().ClusterRoles()
	c := &controller{client: client, roles: inf.Lister(), queue: controllerutil.NewQueue("clusterrole-aggregation")}
	enqueue := func(any) { c.enqueueAggregated() }
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	// One worker, as upstream: aggregated roles can feed each other (view ─▶ edit ─▶ admin).
	controllerutil.Run(ctx, "clusterrole-aggregation", c.queue, 1, c.sync, inf.Informer().HasSynced)
	return nil
}

// enqueueAggregated queues every ClusterRole with an aggregationRule: any change may concern any of them.
func (c *controller) enqueueAggregated() {
	all, err := c.roles.List(labels.Everything())
	if err != nil {
		return
	}
	for _, r := range all {
		if r.AggregationRule != nil {
			c.queue.Add(r.Name)
		}
	}
}

func (c *controller) sync(ctx context.Context, name string) error {
	role, err := c.roles.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return nil
	}
	rules, err := Aggregate(role, c.roles)
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(rules, role.Rules) || (len(rules) == 0 && len(role.Rules) == 0) {
		return nil
	}
	next := role.DeepCopy()
	next.Rules = rules
	_, err = c.client.RbacV1().ClusterRoles().Update(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Aggregate returns the union of the rules of the ClusterRoles role's selectors match (role itself excluded).
func Aggregate(role *rbacv1.ClusterRole, lister rbaclisters.ClusterRoleLister) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	for _, sel := range role.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			continue // validation refuses bad selectors; an old one matches nothing
		}
		matched, err := lister.List(s)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(matched, func(a, b *rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })
		for _, m := range matched {
			if m.Name == role.Name {
				continue
			}
			for _, r := range m.Rules {
				if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool { return apiequality.Semantic.DeepEqual(have, r) }) {
					rules = append(rules, r)
				}
			}
		}
	}
	return rules, nil
}
