package validation

import (
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validatePodDisruptionBudget(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	p := field.NewPath("spec")
	s := pdb.Spec
	var errs field.ErrorList
	// The two express the same budget from opposite ends.
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(p, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	if s.MinAvailable != nil {
		errs = append(errs, validatePositiveIntOrPercent(*s.MinAvailable, p.Child("minAvailable"))...)
		errs = append(errs, notMoreThan100Percent(*s.MinAvailable, p.Child("minAvailable"))...)
	}
	if s.MaxUnavailable != nil {
		errs = append(errs, validatePositiveIntOrPercent(*s.MaxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(*s.MaxUnavailable, p.Child("maxUnavailable"))...)
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	if e := s.UnhealthyPodEvictionPolicy; e != nil {
		errs = append(errs, oneOf(*e, p.Child("unhealthyPodEvictionPolicy"), policyv1.AlwaysAllow, policyv1.IfHealthyBudget)...)
	}
	return errs
}

// HPA rules. The lower bound of minReplicas is 1: scale-to-zero is an alpha
// feature upstream.

func validateScaleTarget(kind, n string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	} else {
		errs = append(errs, msgs(path.ValidatePathSegmentName(kind, false), kind, p.Child("kind"))...)
	}
	if n == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		errs = append(errs, msgs(path.ValidatePathSegmentName(n, false), n, p.Child("name"))...)
	}
	return errs
}

func validateReplicaBounds(minReplicas *int32, maxReplicas int32, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if minReplicas != nil && *minReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *minReplicas, "must be greater than or equal to 1"))
	}
	if maxReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), maxReplicas, "must be greater than 0"))
	}
	if minReplicas != nil && maxReplicas < *minReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), maxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	return errs
}

func validateHPAv1(h *autoscalingv1.HorizontalPodAutoscaler) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateReplicaBounds(h.Spec.MinReplicas, h.Spec.MaxReplicas, p)
	errs = append(errs, validateScaleTarget(h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, p.Child("scaleTargetRef"))...)
	if t := h.Spec.TargetCPUUtilizationPercentage; t != nil && *t < 1 {
		errs = append(errs, field.Invalid(p.Child("targetCPUUtilizationPercentage"), *t, "must be greater than 0"))
	}
	return errs
}

var metricSourceTypes = []autoscalingv2.MetricSourceType{autoscalingv2.ContainerResourceMetricSourceType,
	autoscalingv2.ExternalMetricSourceType, autoscalingv2.ObjectMetricSourceType, autoscalingv2.PodsMetricSourceType,
	autoscalingv2.ResourceMetricSourceType}

func validateHPAv2(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateReplicaBounds(h.Spec.MinReplicas, h.Spec.MaxReplicas, p)
	errs = append(errs, validateScaleTarget(h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, p.Child("scaleTargetRef"))...)
	for i, m := range h.Spec.Metrics {
		errs = append(errs, validateMetricSpec(m, p.Child("metrics").Index(i))...)
	}
	if b := h.Spec.Behavior; b != nil {
		bp := p.Child("behavior")
		errs = append(errs, validateScalingRules(b.ScaleUp, bp.Child("scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, bp.Child("scaleDown"))...)
	}
	return errs
}

// validateMetricSpec: the type names which source is filled in, and only
// that one may be.
func validateMetricSpec(m autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	}
	present := map[autoscalingv2.MetricSourceType]string{}
	if m.Object != nil {
		present[autoscalingv2.ObjectMetricSourceType] = "object"
	}
	if m.Pods != nil {
		present[autoscalingv2.PodsMetricSourceType] = "pods"
	}
	if m.Resource != nil {
		present[autoscalingv2.ResourceMetricSourceType] = "resource"
		errs = append(errs, validateMetricTarget(m.Resource.Target, p.Child("resource", "target"))...)
		if m.Resource.Name == "" {
			errs = append(errs, field.Required(p.Child("resource", "name"), "must specify a resource name"))
		}
	}
	if m.External != nil {
		present[autoscalingv2.ExternalMetricSourceType] = "external"
	}
	if m.ContainerResource != nil {
		present[autoscalingv2.ContainerResourceMetricSourceType] = "containerResource"
	}
	if m.Type != "" {
		if e := oneOf(m.Type, p.Child("type"), metricSourceTypes...); len(e) != 0 {
			return append(errs, e...)
		}
		if _, ok := present[m.Type]; !ok {
			child := map[autoscalingv2.MetricSourceType]string{autoscalingv2.ObjectMetricSourceType: "object",
				autoscalingv2.PodsMetricSourceType: "pods", autoscalingv2.ResourceMetricSourceType: "resource",
				autoscalingv2.ExternalMetricSourceType: "external", autoscalingv2.ContainerResourceMetricSourceType: "containerResource"}[m.Type]
			errs = append(errs, field.Required(p.Child(child), "must populate information for the given metric source"))
		}
	}
	for t, child := range present {
		if t != m.Type {
			errs = append(errs, field.Forbidden(p.Child(child), "must populate the given metric source only"))
		}
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	} else {
		errs = append(errs, oneOf(t.Type, p.Child("type"), autoscalingv2.AverageValueMetricType, autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType)...)
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("value"), t.Value, "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("averageValue"), t.AverageValue, "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

const maxStabilizationWindowSeconds = 3600

func validateScalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil {
		if *w < 0 {
			errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
		}
		if *w > maxStabilizationWindowSeconds {
			errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %v", maxStabilizationWindowSeconds)))
		}
	}
	if sp := r.SelectPolicy; sp != nil {
		errs = append(errs, oneOf(*sp, p.Child("selectPolicy"), autoscalingv2.DisabledPolicySelect, autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect)...)
	}
	pp := p.Child("policies")
	if len(r.Policies) == 0 && (r.SelectPolicy == nil || *r.SelectPolicy != autoscalingv2.DisabledPolicySelect) {
		errs = append(errs, field.Required(pp, "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		ip := pp.Index(i)
		errs = append(errs, oneOf(pol.Type, ip.Child("type"), autoscalingv2.PercentScalingPolicy, autoscalingv2.PodsScalingPolicy)...)
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(ip.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		}
		if pol.PeriodSeconds > 1800 {
			errs = append(errs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %v", 1800)))
		}
	}
	if t := r.Tolerance; t != nil && t.Cmp(resource.Quantity{}) < 0 {
		errs = append(errs, field.Invalid(p.Child("tolerance"), t.String(), "must be greater than or equal to zero"))
	}
	return errs
}
