package registry

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Resource describes one served resource.
type Resource struct {
	schema.GroupVersionResource
	Kind       string
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string
	// Status means a status subresource: updates to the main resource keep the stored status and updates to
	// /status keep everything else. It also means a spec whose changes bump metadata.generation.
	Status bool
	// Scale means a scale subresource over spec.replicas/status.replicas/status.selector.
	Scale bool
	// Extra lists other subresources (binding, eviction, finalize, approval, log, exec, ...).
	Extra []string
	// KeepStatusOnCreate keeps status given at create (nodes are created by their kubelet with a status).
	KeepStatusOnCreate bool
	// Verbs overrides the ordinary verbs (bindings are create-only).
	Verbs []string
	// CreateOnUpdate lets PUT create a missing object, as upstream allows for endpoints, events, leases and
	// RBAC objects.
	CreateOnUpdate bool
	// Virtual resources are create-only questions answered from the request and never stored (access and
	// identity reviews).
	Virtual bool
	// StoredAs names the group/version this resource is stored in when it is served in more than one version
	// (e.g. autoscaling/v1 HPAs are stored as autoscaling/v2); empty means its own.
	StoredAs string
}

// GVK returns the kind of the resource's objects.
func (r *Resource) GVK() schema.GroupVersionKind { return r.GroupVersion().WithKind(r.Kind) }

// New returns an empty object of the resource's kind.
func (r *Resource) New() runtime.Object {
	obj, err := scheme.Scheme.New(r.GVK())
	if err != nil {
		panic(err)
	}
	return obj
}

// NewList returns an empty list of the resource's kind.
func (r *Resource) NewList() runtime.Object {
	obj, err := scheme.Scheme.New(r.GroupVersion().WithKind(r.Kind + "List"))
	if err != nil {
		panic(err)
	}
	return obj
}

// AllVerbs are the verbs of an ordinary resource.
var AllVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// SupportedVerbs returns what the resource serves.
func (r *Resource) SupportedVerbs() []string {
	if r.Verbs != nil {
		return r.Verbs
	}
	return AllVerbs
}

type opt func(*Resource)

func short(s ...string) opt  { return func(r *Resource) { r.ShortNames = s } }
func cats(s ...string) opt   { return func(r *Resource) { r.Categories = s } }
func status(r *Resource)     { r.Status = true }
func scale(r *Resource)      { r.Scale = true }
func extra(s ...string) opt  { return func(r *Resource) { r.Extra = s } }
func keepStatus(r *Resource) { r.KeepStatusOnCreate = true }
func storedAs(gv string) opt { return func(r *Resource) { r.StoredAs = gv } }
func putCreates(r *Resource) { r.CreateOnUpdate = true }
func virtual(r *Resource)    { r.Virtual, r.Verbs = true, []string{"create"} }

const (
	namespaced = true
	cluster    = false
)

func res(gv, resource, kind string, ns bool, opts ...opt) *Resource {
	g, v := "", gv
	if i := strings.LastIndex(gv, "/"); i >= 0 {
		g, v = gv[:i], gv[i+1:]
	}
	r := &Resource{GroupVersionResource: schema.GroupVersionResource{Group: g, Version: v, Resource: resource},
		Kind: kind, Singular: strings.ToLower(kind), Namespaced: ns}
	for _, o := range opts {
		o(r)
	}
	return r
}

// All is every served resource, in discovery order.
var All = []*Resource{
	res("v1", "bindings", "Binding", namespaced, func(r *Resource) { r.Verbs = []string{"create"} }),
	res("v1", "configmaps", "ConfigMap", namespaced, short("cm")),
	res("v1", "endpoints", "Endpoints", namespaced, short("ep"), putCreates),
	res("v1", "events", "Event", namespaced, short("ev"), putCreates),
	res("v1", "limitranges", "LimitRange", namespaced, short("limits")),
	res("v1", "namespaces", "Namespace", cluster, short("ns"), status, extra("finalize")),
	res("v1", "nodes", "Node", cluster, short("no"), status, keepStatus, extra("proxy")),
	res("v1", "persistentvolumeclaims", "PersistentVolumeClaim", namespaced, short("pvc"), status),
	res("v1", "persistentvolumes", "PersistentVolume", cluster, short("pv"), status),
	res("v1", "pods", "Pod", namespaced, short("po"), cats("all"), status,
		extra("attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy", "resize")),
	res("v1", "podtemplates", "PodTemplate", namespaced),
	res("v1", "replicationcontrollers", "ReplicationController", namespaced, short("rc"), cats("all"), status, scale),
	res("v1", "resourcequotas", "ResourceQuota", namespaced, short("quota"), status),
	res("v1", "secrets", "Secret", namespaced),
	res("v1", "serviceaccounts", "ServiceAccount", namespaced, short("sa"), extra("token")),
	res("v1", "services", "Service", namespaced, short("svc"), cats("all"), status, extra("proxy")),

	res("apps/v1", "controllerrevisions", "ControllerRevision", namespaced),
	res("apps/v1", "daemonsets", "DaemonSet", namespaced, short("ds"), cats("all"), status),
	res("apps/v1", "deployments", "Deployment", namespaced, short("deploy"), cats("all"), status, scale),
	res("apps/v1", "replicasets", "ReplicaSet", namespaced, short("rs"), cats("all"), status, scale),
	res("apps/v1", "statefulsets", "StatefulSet", namespaced, short("sts"), cats("all"), status, scale),

	res("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", namespaced, short("hpa"), cats("all"), status),
	// Discovery prefers the first version listed for a group, as upstream prefers autoscaling/v2.
	res("autoscaling/v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", namespaced, short("hpa"), cats("all"), status, storedAs("autoscaling/v2")),
	res("batch/v1", "cronjobs", "CronJob", namespaced, short("cj"), cats("all"), status),
	res("batch/v1", "jobs", "Job", namespaced, cats("all"), status),
	res("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", namespaced, short("pdb"), status),

	res("networking.k8s.io/v1", "ingressclasses", "IngressClass", cluster),
	res("networking.k8s.io/v1", "ingresses", "Ingress", namespaced, short("ing"), status),
	res("networking.k8s.io/v1", "ipaddresses", "IPAddress", cluster, short("ip")),
	res("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", namespaced, short("netpol")),
	res("networking.k8s.io/v1", "servicecidrs", "ServiceCIDR", cluster, status),
	res("discovery.k8s.io/v1", "endpointslices", "EndpointSlice", namespaced),
	res("events.k8s.io/v1", "events", "Event", namespaced, short("ev"), storedAs("v1"), putCreates),
	res("coordination.k8s.io/v1", "leases", "Lease", namespaced, putCreates),

	res("authentication.k8s.io/v1", "selfsubjectreviews", "SelfSubjectReview", cluster, virtual),
	res("authorization.k8s.io/v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", namespaced, virtual),
	res("authorization.k8s.io/v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", cluster, virtual),
	res("authorization.k8s.io/v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", cluster, virtual),
	res("authorization.k8s.io/v1", "subjectaccessreviews", "SubjectAccessReview", cluster, virtual),

	res("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", cluster, putCreates),
	res("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", cluster, putCreates),
	res("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", namespaced, putCreates),
	res("rbac.authorization.k8s.io/v1", "roles", "Role", namespaced, putCreates),

	res("storage.k8s.io/v1", "csidrivers", "CSIDriver", cluster),
	res("storage.k8s.io/v1", "csinodes", "CSINode", cluster),
	res("storage.k8s.io/v1", "csistoragecapacities", "CSIStorageCapacity", namespaced),
	res("storage.k8s.io/v1", "storageclasses", "StorageClass", cluster, short("sc")),
	res("storage.k8s.io/v1", "volumeattachments", "VolumeAttachment", cluster, status),
	res("storage.k8s.io/v1", "volumeattributesclasses", "VolumeAttributesClass", cluster, short("vac")),

	res("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", cluster, short("pc")),
	res("node.k8s.io/v1", "runtimeclasses", "RuntimeClass", cluster),
	res("certificates.k8s.io/v1", "certificatesigningrequests", "CertificateSigningRequest", cluster, short("csr"), status, extra("approval")),

	res("admissionregistration.k8s.io/v1", "mutatingadmissionpolicies", "MutatingAdmissionPolicy", cluster, cats("api-extensions")),
	res("admissionregistration.k8s.io/v1", "mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding", cluster, cats("api-extensions")),
	res("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", cluster, cats("api-extensions")),
	res("admissionregistration.k8s.io/v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", cluster, cats("api-extensions"), status),
	res("admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", cluster, cats("api-extensions")),
	res("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", cluster, cats("api-extensions")),
}
