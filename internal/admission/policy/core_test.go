package policy

import (
	"context"
	"errors"
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A namespaceSelector that cannot be evaluated is an error only when the resource rules match the request
// (upstream's matcher); otherwise the policy just does not apply.
func TestMatchResourcesSelectorErrorOnlyWhenRulesMatch(t *testing.T) {
	failing := func(context.Context, string) (*corev1.Namespace, error) { return nil, errors.New("boom") }
	m := deployRules()
	m.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	if ok, err := MatchResources(context.Background(), m, deployAttrs("a", 1, nil), failing); ok || err == nil {
		t.Fatalf("matching rules: ok=%v err=%v, want the selector error", ok, err)
	}
	other := *m
	other.ResourceRules = []admissionregv1.NamedRuleWithOperations{{RuleWithOperations: admissionregv1.RuleWithOperations{
		Operations: []admissionregv1.OperationType{admissionregv1.Create},
		Rule:       admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}}}
	if ok, err := MatchResources(context.Background(), &other, deployAttrs("a", 1, nil), failing); ok || err != nil {
		t.Fatalf("other rules: ok=%v err=%v, want no match and no error", ok, err)
	}
}
