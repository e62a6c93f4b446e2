package defaults

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Default fills in defaults in place, as upstream's defaulting does, for the
// versioned k8s.io/api object. Kinds it does not know are left untouched, as
// are kinds upstream does not default (Lease, Event, PodDisruptionBudget...).
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	// core/v1
	case *corev1.Pod:
		Pod(o)
	case *corev1.PodList:
		for i := range o.Items {
			Pod(&o.Items[i])
		}
	case *corev1.PodTemplate:
		podTemplateSpec(&o.Template)
	case *corev1.ReplicationController:
		replicationController(o)
	case *corev1.Service:
		service(o)
	case *corev1.Namespace:
		namespace(o)
	case *corev1.Node:
		node(o)
	case *corev1.Secret:
		if o.Type == "" {
			o.Type = corev1.SecretTypeOpaque
		}
	case *corev1.ConfigMap:
		// Upstream materialises an empty data map; harmless on the wire
		// (omitempty) but it keeps "len(data)" checks uniform.
		if o.Data == nil {
			o.Data = map[string]string{}
		}
	case *corev1.PersistentVolume:
		persistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		persistentVolumeClaim(o)
	case *corev1.Endpoints:
		endpoints(o)
	case *corev1.LimitRange:
		limitRange(o)
	case *corev1.ResourceQuota:
		resourceList(&o.Spec.Hard)
		resourceList(&o.Status.Hard)
		resourceList(&o.Status.Used)

	// apps/v1
	case *appsv1.Deployment:
		deployment(o)
	case *appsv1.ReplicaSet:
		replicaSet(o)
	case *appsv1.StatefulSet:
		statefulSet(o)
	case *appsv1.DaemonSet:
		daemonSet(o)

	// batch/v1
	case *batchv1.Job:
		job(o)
	case *batchv1.CronJob:
		cronJob(o)

	// autoscaling
	case *autoscalingv1.HorizontalPodAutoscaler:
		if o.Spec.MinReplicas == nil {
			o.Spec.MinReplicas = int32Ptr(1)
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		hpaV2(o)

	// networking/v1
	case *networkingv1.NetworkPolicy:
		networkPolicy(o)
	case *networkingv1.IngressClass:
		ingressClass(o)

	// discovery/v1
	case *discoveryv1.EndpointSlice:
		endpointSlice(o)

	// rbac/v1
	case *rbacv1.RoleBinding:
		roleBinding(&o.RoleRef, o.Subjects)
	case *rbacv1.ClusterRoleBinding:
		roleBinding(&o.RoleRef, o.Subjects)

	// scheduling/v1
	case *schedulingv1.PriorityClass:
		if o.PreemptionPolicy == nil {
			p := corev1.PreemptLowerPriority
			o.PreemptionPolicy = &p
		}

	// storage/v1
	case *storagev1.StorageClass:
		storageClass(o)
	case *storagev1.CSIDriver:
		csiDriver(o)

	// admissionregistration/v1
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range o.Webhooks {
			validatingWebhook(&o.Webhooks[i])
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range o.Webhooks {
			mutatingWebhook(&o.Webhooks[i])
		}
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		validatingAdmissionPolicy(o)
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		matchResources(o.Spec.MatchResources)
	case *admissionregistrationv1.MutatingAdmissionPolicy:
		// failurePolicy Fail; reinvocationPolicy has no default (required, as upstream).
		if o.Spec.FailurePolicy == nil {
			f := admissionregistrationv1.Fail
			o.Spec.FailurePolicy = &f
		}
		matchResources(o.Spec.MatchConstraints)
	case *admissionregistrationv1.MutatingAdmissionPolicyBinding:
		matchResources(o.Spec.MatchResources)
	}
}

func int32Ptr(v int32) *int32 { return &v }
func int64Ptr(v int64) *int64 { return &v }
func boolPtr(v bool) *bool    { return &v }
func strPtr(v string) *string { return &v }
