package framework

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Defaults used for scoring pods that request nothing, as upstream's: without them, best-effort pods would all
// look free and pile onto one node.
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// Resource is a set of resource amounts: CPU in millicores, memory and ephemeral storage in bytes, a pod count,
// and scalar resources (extended resources such as example.com/gpu, hugepages) by name.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	AllowedPodNumber int64
	Scalar           map[corev1.ResourceName]int64
}

// NewResource reads a ResourceList.
func NewResource(rl corev1.ResourceList) *Resource {
	r := &Resource{}
	r.Add(rl)
	return r
}

// Add adds a ResourceList.
func (r *Resource) Add(rl corev1.ResourceList) {
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case corev1.ResourcePods:
			r.AllowedPodNumber += q.Value()
		default:
			if IsScalarResource(name) {
				r.SetScalar(name, r.Scalar[name]+q.Value())
			}
		}
	}
}

// AddResource adds another Resource.
func (r *Resource) AddResource(o *Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.AllowedPodNumber += o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.SetScalar(k, r.Scalar[k]+v)
	}
}

// SubResource subtracts another Resource.
func (r *Resource) SubResource(o *Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.AllowedPodNumber -= o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.SetScalar(k, r.Scalar[k]-v)
	}
}

// SetMax raises each amount to at least o's.
func (r *Resource) SetMax(o *Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if v > r.Scalar[k] {
			r.SetScalar(k, v)
		}
	}
}

// SetScalar sets one scalar resource.
func (r *Resource) SetScalar(name corev1.ResourceName, v int64) {
	if r.Scalar == nil {
		r.Scalar = map[corev1.ResourceName]int64{}
	}
	r.Scalar[name] = v
}

// Get returns the amount of a resource by name (CPU in millicores).
func (r *Resource) Get(name corev1.ResourceName) int64 {
	switch name {
	case corev1.ResourceCPU:
		return r.MilliCPU
	case corev1.ResourceMemory:
		return r.Memory
	case corev1.ResourceEphemeralStorage:
		return r.EphemeralStorage
	case corev1.ResourcePods:
		return r.AllowedPodNumber
	}
	return r.Scalar[name]
}

// Clone deep-copies.
func (r *Resource) Clone() *Resource {
	out := *r
	if r.Scalar != nil {
		out.Scalar = make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			out.Scalar[k] = v
		}
	}
	return &out
}

// IsScalarResource reports resources counted by name: extended resources (any domain-prefixed name such as
// example.com/gpu), kubernetes.io/-prefixed native ones, hugepages and attachable volumes.
func IsScalarResource(name corev1.ResourceName) bool {
	s := string(name)
	if strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) || strings.HasPrefix(s, "attachable-volumes-") {
		return true
	}
	return strings.Contains(s, "/") && !strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix)
}

// PodRequests computes what a pod asks of a node, as upstream does: the larger of (all app containers plus
// restartable init "sidecar" containers) and (each regular init container plus the sidecars started before
// it), plus pod overhead. Pod-level resources, when set, replace the container sum for CPU and memory.
func PodRequests(pod *corev1.Pod) *Resource {
	return podRequests(pod, false)
}

// PodNonZeroRequests is PodRequests with upstream's defaults for containers that request no CPU or memory,
// used by scoring.
func PodNonZeroRequests(pod *corev1.Pod) *Resource {
	return podRequests(pod, true)
}

func containerRequests(c *corev1.Container, nonZero bool) *Resource {
	r := NewResource(c.Resources.Requests)
	if nonZero {
		if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
			r.MilliCPU = DefaultMilliCPURequest
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			r.Memory = DefaultMemoryRequest
		}
	}
	return r
}

func podRequests(pod *corev1.Pod, nonZero bool) *Resource {
	reqs := &Resource{}
	for i := range pod.Spec.Containers {
		reqs.AddResource(containerRequests(&pod.Spec.Containers[i], nonZero))
	}
	sidecars := &Resource{}
	initMax := &Resource{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cr := containerRequests(c, nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			reqs.AddResource(cr)
			sidecars.AddResource(cr)
			cr = sidecars.Clone()
		} else {
			cr.AddResource(sidecars)
		}
		initMax.SetMax(cr)
	}
	reqs.SetMax(initMax)
	if pr := pod.Spec.Resources; pr != nil && len(pr.Requests) > 0 {
		level := NewResource(pr.Requests)
		if _, ok := pr.Requests[corev1.ResourceCPU]; ok {
			reqs.MilliCPU = level.MilliCPU
		}
		if _, ok := pr.Requests[corev1.ResourceMemory]; ok {
			reqs.Memory = level.Memory
		}
	}
	reqs.Add(pod.Spec.Overhead)
	reqs.AllowedPodNumber = 0
	return reqs
}
