package clusterroleaggregation

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
)

func TestAggregate(t *testing.T) {
	pods := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	jobs := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"batch"}, Resources: []string{"jobs"}}
	sel := map[string]string{"agg": "true"}
	view := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view", Labels: sel},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: sel}}},
		Rules:           []rbacv1.PolicyRule{jobs}}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, r := range []*rbacv1.ClusterRole{view,
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: sel}, Rules: []rbacv1.PolicyRule{pods, jobs}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: sel}, Rules: []rbacv1.PolicyRule{pods}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}},
	} {
		_ = idx.Add(r)
	}
	got, err := Aggregate(view, rbaclisters.NewClusterRoleLister(idx))
	if err != nil {
		t.Fatal(err)
	}
	// a's rules first (roles by name), b's duplicate dropped, view's own rules not fed back.
	if len(got) != 2 || got[0].Resources[0] != "pods" || got[1].Resources[0] != "jobs" {
		t.Fatalf("rules = %v", got)
	}
}
