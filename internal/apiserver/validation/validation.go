package validation

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks a new object's spec (NOT metadata: the caller validates
// ObjectMeta/name already) as upstream does, after defaulting. Unknown kinds
// and kinds without spec rules (ServiceAccount, Role aggregation...) yield
// no errors.
func Validate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePod(o)
	case *corev1.PodTemplate:
		return validatePodTemplateSpec(&o.Template, field.NewPath("template"))
	case *corev1.ReplicationController:
		return validateReplicationController(o)
	case *corev1.Service:
		return validateService(o)
	case *corev1.ConfigMap:
		return validateConfigMap(o)
	case *corev1.Secret:
		return validateSecret(o)
	case *corev1.Namespace:
		return validateNamespace(o)
	case *corev1.Node:
		return validateNode(o)
	case *corev1.Endpoints:
		return validateEndpoints(o)
	case *corev1.PersistentVolume:
		return validatePersistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		return validatePersistentVolumeClaim(o)
	case *corev1.Event:
		return validateLegacyEvent(coreEventFields(o), "reportingComponent")
	case *corev1.LimitRange:
		return validateLimitRange(o)
	case *corev1.ResourceQuota:
		return validateResourceQuota(o)

	case *appsv1.Deployment:
		return validateDeployment(o)
	case *appsv1.ReplicaSet:
		return validateReplicaSet(o)
	case *appsv1.StatefulSet:
		return validateStatefulSet(o)
	case *appsv1.DaemonSet:
		return validateDaemonSet(o)

	case *batchv1.Job:
		return validateJob(o)
	case *batchv1.CronJob:
		return validateCronJob(o)

	case *autoscalingv1.HorizontalPodAutoscaler:
		return validateHPAv1(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return validateHPAv2(o)
	case *policyv1.PodDisruptionBudget:
		return validatePodDisruptionBudget(o)

	case *networkingv1.Ingress:
		return validateIngress(o, true)
	case *networkingv1.IngressClass:
		return validateIngressClass(o)
	case *networkingv1.NetworkPolicy:
		return validateNetworkPolicy(o)
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o)

	case *rbacv1.Role:
		return validateRules(o.Rules, true)
	case *rbacv1.ClusterRole:
		return validateRules(o.Rules, false)
	case *rbacv1.RoleBinding:
		return validateBinding(o.RoleRef, o.Subjects, true)
	case *rbacv1.ClusterRoleBinding:
		return validateBinding(o.RoleRef, o.Subjects, false)

	case *storagev1.StorageClass:
		return validateStorageClass(o)
	case *schedulingv1.PriorityClass:
		return validatePriorityClass(o)
	case *coordinationv1.Lease:
		return validateLease(o)
	case *certificatesv1.CertificateSigningRequest:
		return validateCSR(o)
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		return validateValidatingWebhookConfiguration(o)
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		return validateMutatingWebhookConfiguration(o)
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		return validateValidatingAdmissionPolicy(o)
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		return validateValidatingAdmissionPolicyBinding(o)
	case *admissionregistrationv1.MutatingAdmissionPolicy:
		return validateMutatingAdmissionPolicy(o)
	case *admissionregistrationv1.MutatingAdmissionPolicyBinding:
		return validateMutatingAdmissionPolicyBinding(o)
	case *eventsv1.Event:
		return validateEventsV1(o)
	}
	return nil
}

// ValidateUpdate checks an update: the new object's spec rules plus the
// fields that may not change relative to old. If old is not the same kind
// as obj, only obj is validated.
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		if p, ok := old.(*corev1.Pod); ok {
			return validatePodUpdate(o, p)
		}
	case *corev1.Service:
		if p, ok := old.(*corev1.Service); ok {
			return validateServiceUpdate(o, p)
		}
	case *corev1.ConfigMap:
		if p, ok := old.(*corev1.ConfigMap); ok {
			return validateConfigMapUpdate(o, p)
		}
	case *corev1.Secret:
		if p, ok := old.(*corev1.Secret); ok {
			return validateSecretUpdate(o, p)
		}
	case *corev1.Namespace:
		// Spec changes go through /finalize; the caller keeps the stored
		// finalizers on a plain update, as upstream's strategy does.
		if _, ok := old.(*corev1.Namespace); ok {
			return nil
		}
	case *corev1.Node:
		if p, ok := old.(*corev1.Node); ok {
			return validateNodeUpdate(o, p)
		}
	case *corev1.PersistentVolume:
		if p, ok := old.(*corev1.PersistentVolume); ok {
			return validatePersistentVolumeUpdate(o, p)
		}
	case *corev1.PersistentVolumeClaim:
		if p, ok := old.(*corev1.PersistentVolumeClaim); ok {
			return validatePersistentVolumeClaimUpdate(o, p)
		}
	case *corev1.ResourceQuota:
		if p, ok := old.(*corev1.ResourceQuota); ok {
			return validateResourceQuotaUpdate(o, p)
		}
	case *appsv1.Deployment:
		if p, ok := old.(*appsv1.Deployment); ok {
			return validateDeploymentUpdate(o, p)
		}
	case *appsv1.ReplicaSet:
		if p, ok := old.(*appsv1.ReplicaSet); ok {
			return validateReplicaSetUpdate(o, p)
		}
	case *appsv1.StatefulSet:
		if p, ok := old.(*appsv1.StatefulSet); ok {
			return validateStatefulSetUpdate(o, p)
		}
	case *appsv1.DaemonSet:
		if p, ok := old.(*appsv1.DaemonSet); ok {
			return validateDaemonSetUpdate(o, p)
		}
	case *batchv1.Job:
		if p, ok := old.(*batchv1.Job); ok {
			return validateJobUpdate(o, p)
		}
	case *batchv1.CronJob:
		if p, ok := old.(*batchv1.CronJob); ok {
			return validateCronJobUpdate(o, p)
		}
	case *networkingv1.Ingress:
		if _, ok := old.(*networkingv1.Ingress); ok {
			return validateIngress(o, false)
		}
	case *networkingv1.IngressClass:
		if p, ok := old.(*networkingv1.IngressClass); ok {
			errs := validateIngressClass(o)
			return append(errs, immutable(o.Spec.Controller, p.Spec.Controller, field.NewPath("spec").Child("controller"))...)
		}
	case *discoveryv1.EndpointSlice:
		if p, ok := old.(*discoveryv1.EndpointSlice); ok {
			errs := validateEndpointSlice(o)
			return append(errs, immutable(o.AddressType, p.AddressType, field.NewPath("addressType"))...)
		}
	case *rbacv1.RoleBinding:
		if p, ok := old.(*rbacv1.RoleBinding); ok {
			return append(Validate(o), validateRoleRefUpdate(o.RoleRef, p.RoleRef)...)
		}
	case *rbacv1.ClusterRoleBinding:
		if p, ok := old.(*rbacv1.ClusterRoleBinding); ok {
			return append(Validate(o), validateRoleRefUpdate(o.RoleRef, p.RoleRef)...)
		}
	case *storagev1.StorageClass:
		if p, ok := old.(*storagev1.StorageClass); ok {
			return validateStorageClassUpdate(o, p)
		}
	case *schedulingv1.PriorityClass:
		// Upstream does not re-validate the rest of a PriorityClass on update.
		if p, ok := old.(*schedulingv1.PriorityClass); ok {
			return validatePriorityClassUpdate(o, p)
		}
	case *certificatesv1.CertificateSigningRequest:
		if p, ok := old.(*certificatesv1.CertificateSigningRequest); ok {
			return append(Validate(o), validateCSRUpdate(o, p)...)
		}
	case *eventsv1.Event:
		if p, ok := old.(*eventsv1.Event); ok {
			return validateEventsV1Update(o, p)
		}
	}
	return Validate(obj)
}
