package openapi

import (
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

var allVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

func res(group, version, kind, plural string, namespaced bool, subs ...string) Resource {
	return Resource{
		GVK:          schema.GroupVersionKind{Group: group, Version: version, Kind: kind},
		ListGVK:      schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"},
		Resource:     plural,
		Namespaced:   namespaced,
		Subresources: subs,
		Verbs:        allVerbs,
	}
}

// testResources is a server-like set of built-in resources.
func testResources() []Resource {
	return []Resource{
		res("", "v1", "Pod", "pods", true, "status", "binding", "eviction", "log", "ephemeralcontainers", "exec"),
		res("", "v1", "Service", "services", true, "status"),
		res("", "v1", "ConfigMap", "configmaps", true),
		res("", "v1", "Secret", "secrets", true),
		res("", "v1", "Namespace", "namespaces", false, "status"),
		res("", "v1", "Node", "nodes", false, "status"),
		res("", "v1", "ServiceAccount", "serviceaccounts", true, "token"),
		res("", "v1", "Event", "events", true),
		res("", "v1", "Endpoints", "endpoints", true),
		res("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, "status"),
		res("", "v1", "PersistentVolume", "persistentvolumes", false, "status"),
		res("", "v1", "ReplicationController", "replicationcontrollers", true, "status", "scale"),
		res("", "v1", "LimitRange", "limitranges", true),
		res("", "v1", "ResourceQuota", "resourcequotas", true, "status"),
		res("apps", "v1", "Deployment", "deployments", true, "status", "scale"),
		res("apps", "v1", "ReplicaSet", "replicasets", true, "status", "scale"),
		res("apps", "v1", "StatefulSet", "statefulsets", true, "status", "scale"),
		res("apps", "v1", "DaemonSet", "daemonsets", true, "status"),
		res("apps", "v1", "ControllerRevision", "controllerrevisions", true),
		res("batch", "v1", "Job", "jobs", true, "status"),
		res("batch", "v1", "CronJob", "cronjobs", true, "status"),
		res("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
		res("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
		res("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
		res("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
		res("networking.k8s.io", "v1", "Ingress", "ingresses", true, "status"),
		res("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true),
		res("coordination.k8s.io", "v1", "Lease", "leases", true),
		res("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, "status"),
		res("storage.k8s.io", "v1", "StorageClass", "storageclasses", false),
		res("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
		res("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, "status"),
		res("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false,
			"status", "approval"),
		res("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
			"validatingwebhookconfigurations", false),
		res("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", false, "status"),
	}
}

var (
	sharedOnce sync.Once
	sharedSpec *Spec
	sharedErr  error
)

// testSpec builds the fixture once per test binary; New is deterministic.
func testSpec(t testing.TB) *Spec {
	t.Helper()
	sharedOnce.Do(func() { sharedSpec, sharedErr = New(scheme.Scheme, testResources(), "v1.37.2") })
	if sharedErr != nil {
		t.Fatalf("New: %v", sharedErr)
	}
	return sharedSpec
}
