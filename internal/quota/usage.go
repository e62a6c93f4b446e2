package quota

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// legacyCounts are the object counts quotas named before count/<resource> existed.
var legacyCounts = map[schema.GroupResource]corev1.ResourceName{
	{Resource: "pods"}:                   corev1.ResourcePods,
	{Resource: "services"}:               corev1.ResourceServices,
	{Resource: "configmaps"}:             corev1.ResourceConfigMaps,
	{Resource: "secrets"}:                corev1.ResourceSecrets,
	{Resource: "persistentvolumeclaims"}: corev1.ResourcePersistentVolumeClaims,
	{Resource: "replicationcontrollers"}: corev1.ResourceReplicationControllers,
	{Resource: "resourcequotas"}:         corev1.ResourceQuotas,
}

var (
	podsGR     = schema.GroupResource{Resource: "pods"}
	servicesGR = schema.GroupResource{Resource: "services"}
	pvcsGR     = schema.GroupResource{Resource: "persistentvolumeclaims"}
)

const storageClassSuffix = ".storageclass.storage.k8s.io/"

// ObjectCountName is the object count quota name of a resource: count/pods, count/deployments.apps.
func ObjectCountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// ParseObjectCount returns the resource a count/<resource>[.<group>] name counts.
func ParseObjectCount(name corev1.ResourceName) (schema.GroupResource, bool) {
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok || rest == "" {
		return schema.GroupResource{}, false
	}
	r, g, _ := strings.Cut(rest, ".")
	return schema.GroupResource{Group: g, Resource: r}, true
}

// Usage measures what obj, of resource gr, uses. now decides whether a pod stuck terminating still counts.
func Usage(gr schema.GroupResource, obj runtime.Object, now time.Time) corev1.ResourceList {
	out := corev1.ResourceList{ObjectCountName(gr): one()}
	switch o := obj.(type) {
	case *corev1.Pod:
		if gr == podsGR {
			out = Add(out, podUsage(o, now))
		}
		return out
	case *corev1.Service:
		if gr == servicesGR {
			out = Add(out, serviceUsage(o))
		}
		return out
	case *corev1.PersistentVolumeClaim:
		if gr == pvcsGR {
			out = Add(out, pvcUsage(o))
		}
		return out
	}
	if n, ok := legacyCounts[gr]; ok {
		out[n] = one()
	}
	return out
}

// Tracks reports whether objects of gr can use the named resource, so a quota limiting it applies to them.
func Tracks(gr schema.GroupResource, name corev1.ResourceName) bool {
	if name == ObjectCountName(gr) || legacyCounts[gr] == name {
		return true
	}
	s := string(name)
	switch gr {
	case podsGR:
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
			corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
			corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage:
			return true
		}
		return strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix)
	case servicesGR:
		return name == corev1.ResourceServicesNodePorts || name == corev1.ResourceServicesLoadBalancers
	case pvcsGR:
		return name == corev1.ResourceRequestsStorage || strings.Contains(s, storageClassSuffix)
	}
	return false
}

// PodCounts says whether a pod is charged for its compute resources and the "pods" count: not once it is
// terminal, nor once it is stuck terminating past its grace period (a lost node must not block new pods).
func PodCounts(pod *corev1.Pod, now time.Time) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		end := pod.DeletionTimestamp.Add(time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
		if now.After(end) {
			return false
		}
	}
	return true
}

func podUsage(pod *corev1.Pod, now time.Time) corev1.ResourceList {
	if !PodCounts(pod, now) {
		return nil
	}
	return computeUsage(PodRequests(pod), PodLimits(pod))
}

// computeUsage names requests and limits as quotas do: cpu and requests.cpu for a request, limits.cpu for a
// limit, and requests.<name> for extended resources and huge pages.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePods: one()}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			out[r] = q.DeepCopy()
			out[corev1.DefaultResourceRequestsPrefix+r] = q.DeepCopy()
		}
		if q, ok := limits[r]; ok {
			out["limits."+r] = q.DeepCopy()
		}
	}
	for r, q := range requests {
		switch {
		case strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix):
			out[r] = q.DeepCopy()
			out[corev1.DefaultResourceRequestsPrefix+r] = q.DeepCopy()
		case isExtended(r):
			out[corev1.DefaultResourceRequestsPrefix+r] = q.DeepCopy()
		}
	}
	return out
}

// isExtended: a domain-prefixed name outside kubernetes.io (e.g. example.com/gpu).
func isExtended(r corev1.ResourceName) bool {
	s := string(r)
	if !strings.Contains(s, "/") || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	domain, _, _ := strings.Cut(s, "/")
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

// PodRequests is the pod's effective request, as the scheduler and upstream's resource helpers see it: the
// containers' sum, at least the largest init container (plus the sidecars started before it), plus overhead.
// Pod-level resources (spec.resources), when set, replace the containers' for the resources they name.
func PodRequests(pod *corev1.Pod) corev1.ResourceList {
	return podResources(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Requests }, true)
}

// PodLimits is PodRequests for limits; overhead is added only to resources that have a limit.
func PodLimits(pod *corev1.Pod) corev1.ResourceList {
	return podResources(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Limits }, false)
}

func podResources(pod *corev1.Pod, pick func(corev1.ResourceRequirements) corev1.ResourceList, requests bool) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		sum = Add(sum, pick(c.Resources))
	}
	sidecars, initMax := corev1.ResourceList{}, corev1.ResourceList{}
	for _, c := range pod.Spec.InitContainers {
		own := pick(c.Resources)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sum = Add(sum, own)
			sidecars = Add(sidecars, own)
			Max(initMax, sidecars)
			continue
		}
		Max(initMax, Add(own, sidecars))
	}
	Max(sum, initMax)
	if pod.Spec.Resources != nil {
		for k, v := range pick(*pod.Spec.Resources) {
			sum[k] = v.DeepCopy()
		}
	}
	for k, v := range pod.Spec.Overhead {
		if cur, ok := sum[k]; ok || requests {
			cur.Add(v)
			sum[k] = cur
		}
	}
	return sum
}

func serviceUsage(svc *corev1.Service) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourceServices: one()}
	ports := int64(len(svc.Spec.Ports))
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
	case corev1.ServiceTypeLoadBalancer:
		if a := svc.Spec.AllocateLoadBalancerNodePorts; a != nil && !*a {
			// Without allocation only the ports asking for a node port by number take one.
			ports = 0
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					ports++
				}
			}
		}
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
		out[corev1.ResourceServicesLoadBalancers] = one()
	}
	return out
}

func pvcUsage(pvc *corev1.PersistentVolumeClaim) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePersistentVolumeClaims: one()}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class != "" {
		out[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))] = one()
	}
	// An expansion in progress is charged at the larger of the request and what is being allocated.
	storage, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if a, has := pvc.Status.AllocatedResources[corev1.ResourceStorage]; has && (!ok || a.Cmp(storage) > 0) {
		storage, ok = a, true
	}
	if ok {
		out[corev1.ResourceRequestsStorage] = storage.DeepCopy()
		if class != "" {
			out[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourceRequestsStorage))] = storage.DeepCopy()
		}
	}
	return out
}
