package e2e

import (
	"context"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestResourcesInTwoVersions: autoscaling/v1 and v2 HPAs, and core v1 and events.k8s.io/v1 events, are the
// same objects seen through different versions.
func TestResourcesInTwoVersions(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	ctx := context.Background()
	util, mem := int32(60), resource.MustParse("500Mi")
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &util}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &mem}}},
			},
		},
	}
	if _, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	v1, err := c.Client.AutoscalingV1().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Spec.TargetCPUUtilizationPercentage == nil || *v1.Spec.TargetCPUUtilizationPercentage != 60 || v1.Spec.MaxReplicas != 5 {
		t.Fatalf("v1 view: %+v", v1.Spec)
	}
	*v1.Spec.TargetCPUUtilizationPercentage = 75
	if _, err := c.Client.AutoscalingV1().HorizontalPodAutoscalers("default").Update(ctx, v1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	v2, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(v2.Spec.Metrics) != 2 || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 75 || v2.Spec.Metrics[1].Resource.Name != corev1.ResourceMemory {
		t.Fatalf("v2 after a v1 update: %+v", v2.Spec.Metrics)
	}
	list, err := c.Client.AutoscalingV1().HorizontalPodAutoscalers("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].APIVersion != "" && list.Items[0].APIVersion != "autoscaling/v1" {
		t.Fatalf("v1 list: %v %+v", err, list)
	}

	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default"},
		Reason: "Started", Message: "started container", Type: corev1.EventTypeNormal, Count: 2}
	if _, err := c.Client.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nev, err := c.Client.EventsV1().Events("default").Get(ctx, "web.1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nev.Note != "started container" || nev.Regarding.Name != "web" || nev.DeprecatedCount != 2 {
		t.Fatalf("events.k8s.io view: %+v", nev)
	}
	created, err := c.Client.EventsV1().Events("default").Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.2"},
		EventTime: metav1.NowMicro(), ReportingController: "skiff/test", ReportingInstance: "test-1", Action: "Test",
		Reason: "Tested", Note: "from events.k8s.io", Type: corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	core, err := c.Client.CoreV1().Events("default").Get(ctx, "web.2", metav1.GetOptions{})
	if err != nil || core.Message != "from events.k8s.io" || core.ReportingController != "skiff/test" || core.ResourceVersion != created.ResourceVersion {
		t.Fatalf("core view of an events.k8s.io event: %v %+v", err, core)
	}
	out := kubectl(t, c, "get", "events.v1.events.k8s.io", "-n", "default")
	mustContain(t, out, "Tested", "pod/web")
	out = kubectl(t, c, "get", "hpa.v1.autoscaling", "web")
	mustContain(t, out, "Deployment/web", "75%")
}
