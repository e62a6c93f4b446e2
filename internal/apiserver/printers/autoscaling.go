package printers

import (
	"fmt"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// autoscaling: HorizontalPodAutoscaler (v2 and v1) and the Scale
// subresource.

func init() {
	register(hpaColumns, func(hpa *autoscalingv2.HorizontalPodAutoscaler, now time.Time) []any {
		return hpaCells(hpa.Name, hpa.Spec.ScaleTargetRef, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas,
			hpa.Status.CurrentReplicas, hpa.Spec.Metrics, hpa.Status.CurrentMetrics, age(hpa.CreationTimestamp, now))
	})
	register(hpaColumns, hpaV1Cells)
	register(scaleColumns, func(s *autoscalingv1.Scale, now time.Time) []any {
		return []any{s.Name, int64(s.Spec.Replicas), int64(s.Status.Replicas), age(s.CreationTimestamp, now)}
	})
}

var hpaColumns = cols(
	nameColumn(),
	column("Reference", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["scaleTargetRef"]),
	column("Targets", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["metrics"]),
	column("MinPods", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["minReplicas"]),
	column("MaxPods", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["maxReplicas"]),
	column("Replicas", "string", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
	ageColumn(),
)

// Scale has no name format: it is a subresource view of its parent.
var scaleColumns = cols(
	column("Name", "string", objectMetaDoc["name"]),
	column("Desired", "integer", autoscalingv1.ScaleSpec{}.SwaggerDoc()["replicas"]),
	column("Available", "integer", autoscalingv1.ScaleStatus{}.SwaggerDoc()["replicas"]),
	ageColumn(),
)

func hpaCells(name string, ref autoscalingv2.CrossVersionObjectReference, minReplicas *int32, maxReplicas, current int32,
	specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus, age string) []any {
	minPods := unset
	if minReplicas != nil {
		minPods = itoa(*minReplicas)
	}
	return []any{name, ref.Kind + "/" + ref.Name, hpaTargets(specs, statuses), minPods, int64(maxReplicas), int64(current), age}
}

// hpaV1Cells prints an autoscaling/v1 HPA as the v2 form it is stored in:
// the CPU utilization target becomes a cpu Resource metric.
func hpaV1Cells(hpa *autoscalingv1.HorizontalPodAutoscaler, now time.Time) []any {
	var specs []autoscalingv2.MetricSpec
	var statuses []autoscalingv2.MetricStatus
	if hpa.Spec.TargetCPUUtilizationPercentage != nil {
		specs = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: hpa.Spec.TargetCPUUtilizationPercentage,
				},
			},
		}}
	}
	if hpa.Status.CurrentCPUUtilizationPercentage != nil {
		statuses = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: hpa.Status.CurrentCPUUtilizationPercentage},
			},
		}}
	}
	ref := autoscalingv2.CrossVersionObjectReference{Kind: hpa.Spec.ScaleTargetRef.Kind, Name: hpa.Spec.ScaleTargetRef.Name}
	return hpaCells(hpa.Name, ref, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, hpa.Status.CurrentReplicas, specs, statuses, age(hpa.CreationTimestamp, now))
}

// hpaTargets renders TARGETS as "current/target" per metric, e.g.
// "cpu: 12%/80%, memory: 100Mi/1Gi + 1 more...". Status entries are matched
// to spec entries by position; missing values are <unknown>.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return none
	}
	const max = 2
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		list = append(list, formatMetric(spec, st))
	}
	if len(list) > max {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:max], ", "), len(list)-max)
	}
	return strings.Join(list, ", ")
}

func formatMetric(spec autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	current := unknown
	// Validation guarantees the source matching the type is set; guard
	// anyway so a malformed object cannot crash the server.
	switch {
	case spec.Type == autoscalingv2.ExternalMetricSourceType && spec.External != nil:
		if spec.External.Target.AverageValue != nil {
			if st != nil && st.External != nil && st.External.Current.AverageValue != nil {
				current = st.External.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, spec.External.Target.AverageValue.String())
		}
		if st != nil && st.External != nil {
			current = st.External.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.External.Target.Value.String())

	case spec.Type == autoscalingv2.PodsMetricSourceType && spec.Pods != nil:
		if st != nil && st.Pods != nil {
			current = st.Pods.Current.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Pods.Target.AverageValue.String())

	case spec.Type == autoscalingv2.ObjectMetricSourceType && spec.Object != nil:
		if spec.Object.Target.AverageValue != nil {
			if st != nil && st.Object != nil && st.Object.Current.AverageValue != nil {
				current = st.Object.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, spec.Object.Target.AverageValue.String())
		}
		if st != nil && st.Object != nil {
			current = st.Object.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Object.Target.Value.String())

	case spec.Type == autoscalingv2.ResourceMetricSourceType && spec.Resource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.Resource != nil {
			cur = &st.Resource.Current
		}
		return formatResourceMetric(spec.Resource.Name, spec.Resource.Target, cur)

	case spec.Type == autoscalingv2.ContainerResourceMetricSourceType && spec.ContainerResource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.ContainerResource != nil {
			cur = &st.ContainerResource.Current
		}
		return formatResourceMetric(spec.ContainerResource.Name, spec.ContainerResource.Target, cur)
	}
	return "<unknown type>"
}

// formatResourceMetric: "cpu: 250m/500m" for average values, otherwise
// utilization percentages "cpu: 12%/80%" (<auto> when no target is set).
func formatResourceMetric(name corev1.ResourceName, target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := unknown
	if target.AverageValue != nil {
		if cur != nil {
			current = cur.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, current, target.AverageValue.String())
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, current, want)
}
