package defaults

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

func TestNetworkPolicyTypes(t *testing.T) {
	cases := []struct {
		name string
		spec networkingv1.NetworkPolicySpec
		want []networkingv1.PolicyType
	}{
		{"ingress only", networkingv1.NetworkPolicySpec{}, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		{"with egress rules", networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
			[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}},
		{"explicit kept", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
			[]networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			np := &networkingv1.NetworkPolicy{Spec: c.spec}
			Default(np)
			if !apiequality.Semantic.DeepEqual(np.Spec.PolicyTypes, c.want) {
				t.Errorf("policyTypes = %v, want %v", np.Spec.PolicyTypes, c.want)
			}
		})
	}
	np := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{}}}}}}
	Default(np)
	if *np.Spec.Ingress[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("networkpolicy port protocol not TCP")
	}
}

func TestStorageAndScheduling(t *testing.T) {
	sc := &storagev1.StorageClass{Provisioner: "x"}
	Default(sc)
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("storageclass = %v %v", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	pc := &schedulingv1.PriorityClass{Value: 10}
	Default(pc)
	if *pc.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("preemptionPolicy = %v", *pc.PreemptionPolicy)
	}
	d := &storagev1.CSIDriver{}
	Default(d)
	if !*d.Spec.AttachRequired || *d.Spec.PodInfoOnMount || d.Spec.VolumeLifecycleModes[0] != storagev1.VolumeLifecyclePersistent {
		t.Errorf("csidriver = %+v", d.Spec)
	}
}

func TestRBACDefaults(t *testing.T) {
	rb := &rbacv1.RoleBinding{
		RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.UserKind, Name: "alice"},
			{Kind: rbacv1.GroupKind, Name: "devs"},
			{Kind: rbacv1.ServiceAccountKind, Name: "sa", Namespace: "default"},
		},
	}
	Default(rb)
	if rb.RoleRef.APIGroup != rbacv1.GroupName {
		t.Errorf("roleRef apiGroup = %q", rb.RoleRef.APIGroup)
	}
	want := []string{rbacv1.GroupName, rbacv1.GroupName, ""}
	for i, s := range rb.Subjects {
		if s.APIGroup != want[i] {
			t.Errorf("subject %d apiGroup = %q, want %q", i, s.APIGroup, want[i])
		}
	}
}

func TestHPADefaults(t *testing.T) {
	v1 := &autoscalingv1.HorizontalPodAutoscaler{}
	Default(v1)
	if *v1.Spec.MinReplicas != 1 || v1.Spec.TargetCPUUtilizationPercentage != nil {
		t.Errorf("v1 hpa = %+v", v1.Spec)
	}
	v2 := &autoscalingv2.HorizontalPodAutoscaler{}
	Default(v2)
	if *v2.Spec.MinReplicas != 1 || len(v2.Spec.Metrics) != 1 || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 80 {
		t.Errorf("v2 hpa = %+v", v2.Spec)
	}
	if v2.Spec.Behavior != nil {
		t.Errorf("absent behavior was filled in")
	}
	w := int32(60)
	withBehavior := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &w}},
	}}
	Default(withBehavior)
	b := withBehavior.Spec.Behavior
	if len(b.ScaleUp.Policies) != 2 || *b.ScaleUp.StabilizationWindowSeconds != 0 {
		t.Errorf("scaleUp = %+v", b.ScaleUp)
	}
	if *b.ScaleDown.StabilizationWindowSeconds != 60 || len(b.ScaleDown.Policies) != 1 {
		t.Errorf("scaleDown = %+v", b.ScaleDown)
	}
}

func TestEndpointSliceDefaults(t *testing.T) {
	es := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{}}}
	Default(es)
	if *es.Ports[0].Protocol != corev1.ProtocolTCP || *es.Ports[0].Name != "" {
		t.Errorf("endpointslice port = %+v", es.Ports[0])
	}
}

func TestWebhookDefaults(t *testing.T) {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{Webhooks: []admissionregistrationv1.ValidatingWebhook{{
		Name:         "v.example.com",
		ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "s", Namespace: "n"}},
		Rules:        []admissionregistrationv1.RuleWithOperations{{}},
	}}}
	Default(vwc)
	w := vwc.Webhooks[0]
	if *w.FailurePolicy != admissionregistrationv1.Fail || *w.MatchPolicy != admissionregistrationv1.Equivalent || *w.TimeoutSeconds != 10 {
		t.Errorf("webhook = %+v", w)
	}
	if w.NamespaceSelector == nil || w.ObjectSelector == nil || *w.ClientConfig.Service.Port != 443 || *w.Rules[0].Scope != admissionregistrationv1.AllScopes {
		t.Errorf("webhook selectors/port/scope not defaulted")
	}
	if w.SideEffects != nil || w.AdmissionReviewVersions != nil {
		t.Errorf("v1 must not default sideEffects/admissionReviewVersions")
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "m.example.com"}}}
	Default(mwc)
	if *mwc.Webhooks[0].ReinvocationPolicy != admissionregistrationv1.NeverReinvocationPolicy {
		t.Errorf("reinvocationPolicy not defaulted")
	}
}

func TestUndefaultedKinds(t *testing.T) {
	lease := &coordinationv1.Lease{}
	Default(lease)
	if !apiequality.Semantic.DeepEqual(lease, &coordinationv1.Lease{}) {
		t.Errorf("lease changed")
	}
	ev := &corev1.Event{}
	Default(ev)
	if !apiequality.Semantic.DeepEqual(ev, &corev1.Event{}) {
		t.Errorf("event changed")
	}
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/"}}}}}}}}
	Default(ing)
	if ing.Spec.Rules[0].HTTP.Paths[0].PathType != nil {
		t.Errorf("networking/v1 must not default pathType")
	}
}
