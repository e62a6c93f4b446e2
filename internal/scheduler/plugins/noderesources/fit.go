// Package noderesources implements the NodeResourcesFit plugin (the node must have room for the pod's
// requests; nodes are scored by LeastAllocated, MostAllocated or RequestedToCapacityRatio) and the
// NodeResourcesBalancedAllocation plugin (nodes whose resources would be used most evenly score higher),
// as upstream.
package noderesources

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
)

// FitName is NodeResourcesFit's name in profiles and in statuses.
const FitName = "NodeResourcesFit"

// Failure reasons, as upstream prints them in FailedScheduling events. Scalar resources are reported as
// "Insufficient <name>", e.g. "Insufficient example.com/gpu".
const (
	ErrReasonTooManyPods              = "Too many pods"
	ErrReasonInsufficientCPU          = "Insufficient cpu"
	ErrReasonInsufficientMemory       = "Insufficient memory"
	ErrReasonInsufficientEphemeralStg = "Insufficient ephemeral-storage"
)

const (
	fitPreFilterStateKey framework.StateKey = "PreFilter" + FitName
	fitPreScoreStateKey  framework.StateKey = "PreScore" + FitName
)

// Fit is the NodeResourcesFit plugin.
type Fit struct {
	ignoredResources      sets.Set[string]
	ignoredResourceGroups sets.Set[string]
	strategy              configv1.ScoringStrategyType
	shape                 []shapePoint // RequestedToCapacityRatio only
	resourceAllocationScorer
}

var (
	_ framework.PreFilterPlugin   = &Fit{}
	_ framework.FilterPlugin      = &Fit{}
	_ framework.PreScorePlugin    = &Fit{}
	_ framework.ScorePlugin       = &Fit{}
	_ framework.EnqueueExtensions = &Fit{}
	_ framework.Factory           = NewFit
)

// NewFit builds NodeResourcesFit. args is nil (upstream defaults: no ignored resources, LeastAllocated
// over cpu and memory with weight 1) or a *configv1.NodeResourcesFitArgs, defaulted and validated as
// upstream: an unknown strategy type, a weight outside 1..100, a malformed shape or resource name is an error.
func NewFit(args runtime.Object, _ framework.Handle) (framework.Plugin, error) {
	var a *configv1.NodeResourcesFitArgs
	if args != nil {
		var ok bool
		if a, ok = args.(*configv1.NodeResourcesFitArgs); !ok {
			return nil, fmt.Errorf("want args to be of type NodeResourcesFitArgs, got %T", args)
		}
	}
	a = defaultFitArgs(a)
	if err := validateFitArgs(a); err != nil {
		return nil, fmt.Errorf("invalid NodeResourcesFitArgs: %w", err)
	}
	f := &Fit{
		ignoredResources:      sets.New(a.IgnoredResources...),
		ignoredResourceGroups: sets.New(a.IgnoredResourceGroups...),
		strategy:              a.ScoringStrategy.Type,
		resourceAllocationScorer: resourceAllocationScorer{
			resources: newScoredResources(a.ScoringStrategy.Resources),
		},
	}
	if f.strategy == configv1.RequestedToCapacityRatio {
		f.shape = newShape(a.ScoringStrategy.RequestedToCapacityRatio.Shape)
	}
	return f, nil
}

// Name implements framework.Plugin.
func (f *Fit) Name() string { return FitName }

// EventsToRegister: pods going away or being scaled down in place free resources; nodes appearing or
// growing add some. Taint and label updates are registered with Node/Add, as upstream does when queueing
// hints are off.
func (f *Fit) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventPod, ActionType: framework.Delete | framework.UpdatePodScaleDown},
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeAllocatable | framework.UpdateNodeTaint | framework.UpdateNodeLabel},
	}
}

// scalarRequest is one scalar resource the pod requests and Filter must check.
type scalarRequest struct {
	name     corev1.ResourceName
	quantity int64
	reason   string
}

// fitPreFilterState is the pod's request, with the scalar resources to check listed (non-zero, not ignored,
// sorted by name so reasons come out in a stable order).
type fitPreFilterState struct {
	milliCPU, memory, ephemeralStorage int64
	scalars                            []scalarRequest
}

// Clone shares the state: the pod's request does not change.
func (s *fitPreFilterState) Clone() framework.StateData { return s }

// PreFilter computes the pod's request (containers, init containers and sidecars, pod overhead and
// pod-level resources: see framework.PodRequests).
func (f *Fit) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod) (*framework.PreFilterResult, *framework.Status) {
	state.Write(fitPreFilterStateKey, f.computePodRequest(pod))
	return nil, nil
}

func (f *Fit) computePodRequest(pod *corev1.Pod) *fitPreFilterState {
	req := framework.PodRequests(pod)
	s := &fitPreFilterState{milliCPU: req.MilliCPU, memory: req.Memory, ephemeralStorage: req.EphemeralStorage}
	for name, q := range req.Scalar {
		if q == 0 || f.ignored(name) {
			continue
		}
		s.scalars = append(s.scalars, scalarRequest{name: name, quantity: q, reason: "Insufficient " + string(name)})
	}
	slices.SortFunc(s.scalars, func(a, b scalarRequest) int { return strings.Compare(string(a.name), string(b.name)) })
	return s
}

// ignored reports an extended resource listed in ignoredResources or in one of ignoredResourceGroups (the
// part of its name before "/"). Only extended resources can be ignored, as upstream.
func (f *Fit) ignored(name corev1.ResourceName) bool {
	if !isExtendedResourceName(name) {
		return false
	}
	if f.ignoredResources.Has(string(name)) {
		return true
	}
	if f.ignoredResourceGroups.Len() > 0 {
		group, _, _ := strings.Cut(string(name), "/")
		return f.ignoredResourceGroups.Has(group)
	}
	return false
}

// isExtendedResourceName reports a resource outside the kubernetes.io namespace with a domain prefix,
// whose quota name ("requests." + name) is a qualified name.
func isExtendedResourceName(name corev1.ResourceName) bool {
	s := string(name)
	if !strings.Contains(s, "/") || strings.Contains(s, corev1.ResourceDefaultNamespacePrefix) {
		return false
	}
	if strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(content.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+s)) == 0
}

// Filter rejects a node that cannot take one more pod or lacks room for the pod's request; every missing
// resource is reported. The rejection is Unschedulable (preemption may make room) unless the pod asks for
// more of some resource than the node has in total, which is UnschedulableAndUnresolvable.
func (f *Fit) Filter(_ context.Context, state *framework.CycleState, _ *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	c, err := state.Read(fitPreFilterStateKey)
	if err != nil {
		return framework.AsStatus(fmt.Errorf("error reading %q from cycleState: %w", fitPreFilterStateKey, err))
	}
	s, ok := c.(*fitPreFilterState)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%+v convert to NodeResourcesFit.preFilterState error", c))
	}
	return fitsRequest(s, nodeInfo)
}

func fitsRequest(s *fitPreFilterState, ni *framework.NodeInfo) *framework.Status {
	var reasons []string
	unresolvable := false
	alloc, used := ni.Allocatable, ni.Requested
	if int64(len(ni.Pods))+1 > alloc.AllowedPodNumber {
		reasons = append(reasons, ErrReasonTooManyPods)
	}
	if s.milliCPU > 0 && s.milliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, ErrReasonInsufficientCPU)
		unresolvable = unresolvable || s.milliCPU > alloc.MilliCPU
	}
	if s.memory > 0 && s.memory > alloc.Memory-used.Memory {
		reasons = append(reasons, ErrReasonInsufficientMemory)
		unresolvable = unresolvable || s.memory > alloc.Memory
	}
	if s.ephemeralStorage > 0 && s.ephemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, ErrReasonInsufficientEphemeralStg)
		unresolvable = unresolvable || s.ephemeralStorage > alloc.EphemeralStorage
	}
	for i := range s.scalars {
		r := &s.scalars[i]
		a := alloc.Scalar[r.name]
		if r.quantity > a-used.Scalar[r.name] {
			reasons = append(reasons, r.reason)
			unresolvable = unresolvable || r.quantity > a
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	if unresolvable {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, reasons...)
	}
	return framework.NewStatus(framework.Unschedulable, reasons...)
}

// Fits reports whether the pod fits the node's resources (ignoring no resource), for callers outside a
// scheduling cycle.
func Fits(pod *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	return fitsRequest((&Fit{}).computePodRequest(pod), nodeInfo)
}

// fitPreScoreState is the pod's request for each scored resource (non-zero requests for cpu and memory).
type fitPreScoreState struct {
	podRequests []int64
}

// Clone shares the state: it never changes after PreScore.
func (s *fitPreScoreState) Clone() framework.StateData { return s }

// PreScore computes the pod's request for each scored resource once for all nodes.
func (f *Fit) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	state.Write(fitPreScoreStateKey, &fitPreScoreState{podRequests: f.podRequests(pod)})
	return nil
}

// Score rates the node by the configured strategy; scores are already in 0..MaxNodeScore.
func (f *Fit) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	var podRequests []int64
	if c, err := state.Read(fitPreScoreStateKey); err == nil {
		if s, ok := c.(*fitPreScoreState); ok {
			podRequests = s.podRequests
		}
	}
	if podRequests == nil {
		// PreScore did not run: compute here, as upstream does.
		podRequests = f.podRequests(pod)
	}
	return f.score(nodeInfo, podRequests), nil
}

// score is the weighted average of the per-resource scores over the resources the node has (see
// allocatableRequested), computed with the pod's request added to the node's.
func (f *Fit) score(ni *framework.NodeInfo, podRequests []int64) int64 {
	var nodeScore, weightSum int64
	for i := range f.resources {
		alloc, req := f.allocatableRequested(ni, i, podRequests[i])
		if alloc == 0 {
			continue
		}
		req += podRequests[i]
		w := f.resources[i].weight
		switch f.strategy {
		case configv1.LeastAllocated:
			nodeScore += leastRequestedScore(req, alloc) * w
			weightSum += w
		case configv1.MostAllocated:
			nodeScore += mostRequestedScore(req, alloc) * w
			weightSum += w
		case configv1.RequestedToCapacityRatio:
			// As upstream, a resource scoring 0 on the shape does not count towards the average.
			if s := requestedToCapacityRatioScore(f.shape, req, alloc); s > 0 {
				nodeScore += s * w
				weightSum += w
			}
		}
	}
	if weightSum == 0 {
		return 0
	}
	if f.strategy == configv1.RequestedToCapacityRatio {
		return int64(math.Round(float64(nodeScore) / float64(weightSum)))
	}
	return nodeScore / weightSum
}

// ScoreExtensions implements framework.ScorePlugin: scores need no normalization.
func (f *Fit) ScoreExtensions() framework.ScoreExtensions { return nil }
