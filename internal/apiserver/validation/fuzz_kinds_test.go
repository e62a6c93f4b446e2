package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var fuzzKinds = []func() runtime.Object{
	func() runtime.Object { return &appsv1.Deployment{} },
	func() runtime.Object { return &appsv1.StatefulSet{} },
	func() runtime.Object { return &appsv1.DaemonSet{} },
	func() runtime.Object { return &batchv1.Job{} },
	func() runtime.Object { return &batchv1.CronJob{} },
	func() runtime.Object { return &corev1.Service{} },
	func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
	func() runtime.Object { return &corev1.PersistentVolume{} },
	func() runtime.Object { return &networkingv1.Ingress{} },
	func() runtime.Object { return &networkingv1.NetworkPolicy{} },
	func() runtime.Object { return &discoveryv1.EndpointSlice{} },
	func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
}
