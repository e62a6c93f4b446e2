// Package nodeaffinity implements the NodeAffinity plugin: a pod's spec.nodeSelector and required node
// affinity filter nodes, its preferred node affinity scores them, and the scheduler profile may add affinity
// of its own (NodeAffinityArgs.addedAffinity), as upstream.
package nodeaffinity

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "NodeAffinity"

// Failure reasons, as upstream prints them in FailedScheduling events.
const (
	// ErrReasonPod is returned when the pod's nodeSelector or required node affinity does not match.
	ErrReasonPod = "node(s) didn't match Pod's node affinity/selector"
	// ErrReasonEnforced is returned when the profile's addedAffinity does not match.
	ErrReasonEnforced = "node(s) didn't match scheduler-enforced node affinity"
	// ErrReasonConflict is returned by PreFilter when a term requires two different node names at once.
	ErrReasonConflict = "pod affinity terms conflict"
)

const (
	preFilterStateKey framework.StateKey = "PreFilter" + Name
	preScoreStateKey  framework.StateKey = "PreScore" + Name
)

// NodeAffinity is the plugin.
type NodeAffinity struct {
	// addedNodeSelector and addedPrefSchedTerms come from NodeAffinityArgs.addedAffinity (nil when unset).
	addedNodeSelector   *nodeSelector
	addedPrefSchedTerms *preferredTerms
}

var (
	_ framework.PreFilterPlugin   = &NodeAffinity{}
	_ framework.FilterPlugin      = &NodeAffinity{}
	_ framework.PreScorePlugin    = &NodeAffinity{}
	_ framework.ScorePlugin       = &NodeAffinity{}
	_ framework.ScoreExtensions   = &NodeAffinity{}
	_ framework.EnqueueExtensions = &NodeAffinity{}
	_ framework.Factory           = New
)

// New builds the plugin. args is nil (no added affinity) or a *configv1.NodeAffinityArgs whose
// addedAffinity, when set, must parse: a broken selector is a configuration error.
func New(args runtime.Object, _ framework.Handle) (framework.Plugin, error) {
	pl := &NodeAffinity{}
	if args == nil {
		return pl, nil
	}
	a, ok := args.(*configv1.NodeAffinityArgs)
	if !ok {
		return nil, fmt.Errorf("want args to be of type NodeAffinityArgs, got %T", args)
	}
	if a == nil || a.AddedAffinity == nil {
		return pl, nil
	}
	path := field.NewPath("addedAffinity")
	var errs []error
	if ns := a.AddedAffinity.RequiredDuringSchedulingIgnoredDuringExecution; ns != nil {
		s, err := newNodeSelector(ns, path.Child("requiredDuringSchedulingIgnoredDuringExecution"))
		if err != nil {
			errs = append(errs, err)
		}
		pl.addedNodeSelector = s
	}
	if terms := a.AddedAffinity.PreferredDuringSchedulingIgnoredDuringExecution; len(terms) != 0 {
		p, err := newPreferredTerms(terms, path.Child("preferredDuringSchedulingIgnoredDuringExecution"))
		if err != nil {
			errs = append(errs, err)
		}
		pl.addedPrefSchedTerms = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid NodeAffinityArgs: %w", err)
	}
	return pl, nil
}

// Name implements framework.Plugin.
func (pl *NodeAffinity) Name() string { return Name }

// EventsToRegister: a new node, or a node's labels changing. Taint updates are registered with Node/Add, as
// upstream does when queueing hints are off.
func (pl *NodeAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeLabel | framework.UpdateNodeTaint},
	}
}

// preFilterState is the pod's compiled nodeSelector and required affinity.
type preFilterState struct {
	required requiredNodeAffinity
}

// Clone shares the state: it does not depend on other pods.
func (s *preFilterState) Clone() framework.StateData { return s }

// PreFilter compiles the pod's required node selection. Pods with neither nodeSelector nor required node
// affinity skip Filter unless the profile adds affinity. When every required term pins metadata.name with
// the In operator, only those nodes are returned as candidates.
func (pl *NodeAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod) (*framework.PreFilterResult, *framework.Status) {
	affinity := pod.Spec.Affinity
	noNodeAffinity := affinity == nil || affinity.NodeAffinity == nil ||
		affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil
	if noNodeAffinity && pl.addedNodeSelector == nil && pod.Spec.NodeSelector == nil {
		return nil, framework.NewStatus(framework.Skip)
	}
	state.Write(preFilterStateKey, &preFilterState{required: getRequiredNodeAffinity(pod)})
	if noNodeAffinity {
		return nil, nil
	}

	// Terms are ORed, so the candidate nodes are the union over terms; within a term the metadata.name
	// requirements are ANDed, so they intersect. One term without such a requirement lets every node in.
	var nodeNames sets.Set[string]
	for _, t := range affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		var termNodeNames sets.Set[string]
		for _, r := range t.MatchFields {
			if r.Key != metav1.ObjectNameField || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			s := sets.New(r.Values...)
			if termNodeNames == nil {
				termNodeNames = s
			} else {
				termNodeNames = termNodeNames.Intersection(s)
			}
		}
		if termNodeNames == nil {
			return nil, nil
		}
		if termNodeNames.Len() == 0 {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonConflict)
		}
		nodeNames = nodeNames.Union(termNodeNames)
	}
	if nodeNames != nil {
		return &framework.PreFilterResult{NodeNames: nodeNames}, nil
	}
	return nil, nil
}

// Filter rejects a node that misses the profile's added affinity or the pod's nodeSelector / required
// affinity. Both rejections are unresolvable: evicting pods does not change node labels.
func (pl *NodeAffinity) Filter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	node := nodeInfo.Node
	if node == nil {
		return framework.AsStatus(errors.New("node not found"))
	}
	if pl.addedNodeSelector != nil && !pl.addedNodeSelector.matches(node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonEnforced)
	}
	var s *preFilterState
	if c, err := state.Read(preFilterStateKey); err == nil {
		s, _ = c.(*preFilterState)
	}
	if s == nil {
		// PreFilter did not run (e.g. disabled in the profile): compile here, as upstream does.
		s = &preFilterState{required: getRequiredNodeAffinity(pod)}
	}
	if !s.required.Match(node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonPod)
	}
	return nil
}

// preScoreState is the pod's compiled preferred node affinity (nil when it has none).
type preScoreState struct {
	preferred *preferredTerms
}

// Clone shares the state: it never changes after PreScore.
func (s *preScoreState) Clone() framework.StateData { return s }

// PreScore compiles the pod's preferred terms; a pod without any skips Score unless the profile adds
// preferred terms. A preferred term that does not parse is an error, as upstream.
func (pl *NodeAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodes []*framework.NodeInfo) *framework.Status {
	if len(nodes) == 0 {
		return nil
	}
	preferred, err := getPodPreferredNodeAffinity(pod)
	if err != nil {
		return framework.AsStatus(err)
	}
	if preferred == nil && pl.addedPrefSchedTerms == nil {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(preScoreStateKey, &preScoreState{preferred: preferred})
	return nil
}

// Score sums the weights of the preferred terms (the profile's and the pod's) the node matches.
func (pl *NodeAffinity) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	node := nodeInfo.Node
	if node == nil {
		return 0, framework.AsStatus(errors.New("node not found"))
	}
	var count int64
	if pl.addedPrefSchedTerms != nil {
		count += pl.addedPrefSchedTerms.score(node)
	}
	var s *preScoreState
	if c, err := state.Read(preScoreStateKey); err == nil {
		s, _ = c.(*preScoreState)
	}
	if s == nil {
		// PreScore did not run: compile here, as upstream does.
		preferred, err := getPodPreferredNodeAffinity(pod)
		if err != nil {
			return 0, framework.AsStatus(err)
		}
		s = &preScoreState{preferred: preferred}
	}
	if s.preferred != nil {
		count += s.preferred.score(node)
	}
	return count, nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *NodeAffinity) ScoreExtensions() framework.ScoreExtensions { return pl }

// NormalizeScore scales the weight sums so the best node gets MaxNodeScore (all stay 0 when none matched).
func (pl *NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, scores framework.NodeScoreList) *framework.Status {
	var maxCount int64
	for i := range scores {
		if scores[i].Score > maxCount {
			maxCount = scores[i].Score
		}
	}
	if maxCount == 0 {
		return nil
	}
	for i := range scores {
		scores[i].Score = framework.MaxNodeScore * scores[i].Score / maxCount
	}
	return nil
}
