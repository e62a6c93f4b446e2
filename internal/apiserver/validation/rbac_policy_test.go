package validation

import (
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValidateRBAC(t *testing.T) {
	check(t, &rbacv1.Role{Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}, nil)
	check(t, &rbacv1.Role{Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}, nil,
		wantErr{req, "rules[0].verbs", "verbs must contain at least one value"})
	check(t, &rbacv1.Role{Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}, nil,
		wantErr{inv, "rules[0].nonResourceURLs", "namespaced rules cannot apply to non-resource URLs"})
	check(t, &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}, nil)
	check(t, &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}}}}, nil,
		wantErr{req, "rules[0].apiGroups", ""}, wantErr{req, "rules[0].resources", ""})

	rb := func(kind, name string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: kind, Name: name}, Subjects: subjects}
	}
	user := rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"}
	check(t, rb("Role", "reader", user), nil)
	check(t, rb("Role", "", user), nil, wantErr{req, "roleRef.name", ""})
	check(t, rb("Group", "reader", user), nil, wantErr{unsup, "roleRef.kind", `"Role", "ClusterRole"`})
	check(t, rb("Role", "reader", rbacv1.Subject{Kind: "Robot", Name: "r2"}), nil, wantErr{unsup, "subjects[0].kind", ""})
	check(t, rb("Role", "writer", user), rb("Role", "reader", user), wantErr{inv, "roleRef", "cannot change roleRef"})

	crb := &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "sa"}}}
	check(t, crb, nil, wantErr{req, "subjects[0].namespace", ""})
}

func TestValidatePDBAndHPA(t *testing.T) {
	one := intstr.FromInt32(1)
	pct := intstr.FromString("120%")
	check(t, &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: selector()}}, nil)
	check(t, &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, MaxUnavailable: &one}}, nil,
		wantErr{inv, "spec", "minAvailable and maxUnavailable cannot be both set"})
	check(t, &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &pct}}, nil,
		wantErr{inv, "spec.maxUnavailable", "must not be greater than 100%"})

	ref := autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"}
	three, five := int32(3), int32(5)
	check(t, &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 5}}, nil)
	check(t, &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MinReplicas: &five, MaxReplicas: 3}}, nil,
		wantErr{inv, "spec.maxReplicas", "must be greater than or equal to `minReplicas`"})
	check(t, &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3, MinReplicas: &three}}, nil,
		wantErr{req, "spec.scaleTargetRef.kind", ""}, wantErr{req, "spec.scaleTargetRef.name", ""})
	check(t, &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 3,
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType}}}}, nil,
		wantErr{req, "spec.metrics[0].pods", "must populate information for the given metric source"})
	check(t, &autoscalingv1.HorizontalPodAutoscaler{Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 0}}, nil,
		wantErr{inv, "spec.maxReplicas", "must be greater than 0"})
}
