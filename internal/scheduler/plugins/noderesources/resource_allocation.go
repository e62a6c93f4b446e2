package noderesources

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
)

// resourceKind says where a scored resource's amounts live in a framework.Resource, resolved once at
// construction so that scoring a node does no string work.
type resourceKind uint8

const (
	kindCPU resourceKind = iota
	kindMemory
	kindEphemeralStorage
	kindScalar // extended resources, hugepages, attachable volumes...
	kindOther  // anything else (e.g. "pods"): never scored, as upstream
)

// scoredResource is one entry of the strategy's resources list.
type scoredResource struct {
	name   corev1.ResourceName
	kind   resourceKind
	weight int64
}

func newScoredResources(specs []configv1.ResourceSpec) []scoredResource {
	out := make([]scoredResource, len(specs))
	for i, s := range specs {
		name := corev1.ResourceName(s.Name)
		r := scoredResource{name: name, weight: s.Weight}
		switch {
		case name == corev1.ResourceCPU:
			r.kind = kindCPU
		case name == corev1.ResourceMemory:
			r.kind = kindMemory
		case name == corev1.ResourceEphemeralStorage:
			r.kind = kindEphemeralStorage
		case framework.IsScalarResource(name):
			r.kind = kindScalar
		default:
			r.kind = kindOther
		}
		out[i] = r
	}
	return out
}

// resourceAllocationScorer holds what both NodeResourcesFit's scoring and NodeResourcesBalancedAllocation
// need: the scored resources and which node totals to read.
type resourceAllocationScorer struct {
	resources []scoredResource
	// useRequested: score on the node's plain Requested and the pod's plain requests (BalancedAllocation).
	// Otherwise cpu and memory come from NonZeroRequested and the pod's non-zero requests (Fit), so pods
	// requesting nothing still count, as upstream.
	useRequested bool
}

// podRequests returns the pod's request for each scored resource, in the resources' order.
func (r *resourceAllocationScorer) podRequests(pod *corev1.Pod) []int64 {
	var req *framework.Resource
	if r.useRequested {
		req = framework.PodRequests(pod)
	} else {
		req = framework.PodNonZeroRequests(pod)
	}
	out := make([]int64, len(r.resources))
	for i := range r.resources {
		res := &r.resources[i]
		switch res.kind {
		case kindCPU:
			out[i] = req.MilliCPU
		case kindMemory:
			out[i] = req.Memory
		case kindEphemeralStorage:
			out[i] = req.EphemeralStorage
		case kindScalar:
			out[i] = req.Scalar[res.name]
		}
	}
	return out
}

// allocatableRequested returns, for scored resource i, the node's allocatable amount and what is requested
// on it without the pod (add podRequest for "with the pod"). An allocatable of 0 means "leave this
// resource out of the score": an extended resource the pod does not request, or one the node lacks.
func (r *resourceAllocationScorer) allocatableRequested(ni *framework.NodeInfo, i int, podRequest int64) (allocatable, requested int64) {
	res := &r.resources[i]
	nodeRequested := ni.NonZeroRequested
	if r.useRequested {
		nodeRequested = ni.Requested
	}
	switch res.kind {
	case kindCPU:
		return ni.Allocatable.MilliCPU, nodeRequested.MilliCPU
	case kindMemory:
		return ni.Allocatable.Memory, nodeRequested.Memory
	case kindEphemeralStorage:
		return ni.Allocatable.EphemeralStorage, ni.Requested.EphemeralStorage
	case kindScalar:
		if podRequest == 0 {
			return 0, 0
		}
		if a, ok := ni.Allocatable.Scalar[res.name]; ok {
			return a, ni.Requested.Scalar[res.name]
		}
	}
	return 0, 0
}

// leastRequestedScore is the share of the resource left free, on a 0..MaxNodeScore scale.
func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}

// mostRequestedScore is the share of the resource in use, on a 0..MaxNodeScore scale. Requests may exceed
// capacity because pods requesting nothing count with default requests; such nodes are simply full.
func mostRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	if requested > capacity {
		requested = capacity
	}
	return requested * framework.MaxNodeScore / capacity
}

// shapePoint is a RequestedToCapacityRatio shape point with its score scaled to MaxNodeScore.
type shapePoint struct {
	utilization int64
	score       int64
}

func newShape(points []configv1.UtilizationShapePoint) []shapePoint {
	out := make([]shapePoint, len(points))
	for i, p := range points {
		out[i] = shapePoint{utilization: int64(p.Utilization), score: int64(p.Score) * (framework.MaxNodeScore / maxCustomPriorityScore)}
	}
	return out
}

// brokenLinear evaluates the piecewise linear function through the shape's points: flat before the first
// and after the last point, linearly interpolated (integer arithmetic) between them.
func brokenLinear(shape []shapePoint, p int64) int64 {
	for i := range shape {
		if p <= shape[i].utilization {
			if i == 0 {
				return shape[0].score
			}
			prev := shape[i-1]
			return prev.score + (shape[i].score-prev.score)*(p-prev.utilization)/(shape[i].utilization-prev.utilization)
		}
	}
	return shape[len(shape)-1].score
}

// requestedToCapacityRatioScore maps the resource's utilization in percent through the shape; an
// overcommitted resource counts as 100% used.
func requestedToCapacityRatioScore(shape []shapePoint, requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return brokenLinear(shape, 100)
	}
	return brokenLinear(shape, requested*100/capacity)
}

// balancedResourceScore is (1 - standard deviation of the requested/allocatable fractions) * MaxNodeScore,
// over the resources with a non-zero allocatable. Fractions are capped at 1.
func (r *resourceAllocationScorer) balancedResourceScore(ni *framework.NodeInfo, podRequests []int64, withPod bool) int64 {
	fraction := func(i int) (float64, bool) {
		alloc, req := r.allocatableRequested(ni, i, podRequests[i])
		if alloc == 0 {
			return 0, false
		}
		if withPod {
			req += podRequests[i]
		}
		f := float64(req) / float64(alloc)
		if f > 1 {
			f = 1
		}
		return f, true
	}
	var n int
	var total, first, second float64
	for i := range r.resources {
		f, ok := fraction(i)
		if !ok {
			continue
		}
		switch n {
		case 0:
			first = f
		case 1:
			second = f
		}
		total += f
		n++
	}
	var std float64
	switch {
	case n == 2:
		// Two resources (the common case): the standard deviation is half the difference.
		std = math.Abs((first - second) / 2)
	case n > 2:
		mean := total / float64(n)
		var sum float64
		for i := range r.resources {
			if f, ok := fraction(i); ok {
				sum += (f - mean) * (f - mean)
			}
		}
		std = math.Sqrt(sum / float64(n))
	}
	return int64((1 - std) * float64(framework.MaxNodeScore))
}
