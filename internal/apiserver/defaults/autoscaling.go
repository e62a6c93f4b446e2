package defaults

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// defaultCPUUtilization is the target upstream assumes when an HPA lists no
// metrics at all.
const defaultCPUUtilization = 80

func hpaV2(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = int32Ptr(1)
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: int32Ptr(defaultCPUUtilization),
				},
			},
		}}
	}
	// Behavior is only completed when the user gave one: an absent
	// behavior means "controller defaults" and must stay absent.
	if b := h.Spec.Behavior; b != nil {
		b.ScaleUp = scalingRules(b.ScaleUp, scaleUpDefaults())
		b.ScaleDown = scalingRules(b.ScaleDown, scaleDownDefaults())
	}
}

func scaleUpDefaults() *autoscalingv2.HPAScalingRules {
	max := autoscalingv2.MaxChangePolicySelect
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: int32Ptr(0),
		SelectPolicy:               &max,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// scaleDownDefaults leaves the stabilization window unset: the controller
// fills it from its own flag.
func scaleDownDefaults() *autoscalingv2.HPAScalingRules {
	max := autoscalingv2.MaxChangePolicySelect
	return &autoscalingv2.HPAScalingRules{
		SelectPolicy: &max,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// scalingRules overlays the user's non-nil fields on the defaults.
func scalingRules(user, def *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if user == nil {
		return def
	}
	if user.SelectPolicy != nil {
		def.SelectPolicy = user.SelectPolicy
	}
	if user.StabilizationWindowSeconds != nil {
		def.StabilizationWindowSeconds = user.StabilizationWindowSeconds
	}
	if user.Policies != nil {
		def.Policies = user.Policies
	}
	if user.Tolerance != nil {
		def.Tolerance = user.Tolerance
	}
	return def
}
