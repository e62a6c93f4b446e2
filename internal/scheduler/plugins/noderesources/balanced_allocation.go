package noderesources

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
)

// BalancedAllocationName is NodeResourcesBalancedAllocation's name in profiles and in statuses.
const BalancedAllocationName = "NodeResourcesBalancedAllocation"

const balancedPreScoreStateKey framework.StateKey = "PreScore" + BalancedAllocationName

// BalancedAllocation is the NodeResourcesBalancedAllocation plugin.
type BalancedAllocation struct {
	resourceAllocationScorer
}

var (
	_ framework.PreScorePlugin    = &BalancedAllocation{}
	_ framework.ScorePlugin       = &BalancedAllocation{}
	_ framework.EnqueueExtensions = &BalancedAllocation{}
	_ framework.Factory           = NewBalancedAllocation
)

// NewBalancedAllocation builds NodeResourcesBalancedAllocation. args is nil (upstream defaults: cpu and
// memory) or a *configv1.NodeResourcesBalancedAllocationArgs; as upstream, resources may not repeat and
// every weight must be 1.
func NewBalancedAllocation(args runtime.Object, _ framework.Handle) (framework.Plugin, error) {
	var a *configv1.NodeResourcesBalancedAllocationArgs
	if args != nil {
		var ok bool
		if a, ok = args.(*configv1.NodeResourcesBalancedAllocationArgs); !ok {
			return nil, fmt.Errorf("want args to be of type NodeResourcesBalancedAllocationArgs, got %T", args)
		}
	}
	a = defaultBalancedAllocationArgs(a)
	if err := validateBalancedAllocationArgs(a); err != nil {
		return nil, fmt.Errorf("invalid NodeResourcesBalancedAllocationArgs: %w", err)
	}
	return &BalancedAllocation{resourceAllocationScorer{resources: newScoredResources(a.Resources), useRequested: true}}, nil
}

// Name implements framework.Plugin.
func (ba *BalancedAllocation) Name() string { return BalancedAllocationName }

// EventsToRegister returns nothing: a score plugin never rejects a pod.
func (ba *BalancedAllocation) EventsToRegister() []framework.ClusterEvent { return nil }

// balancedPreScoreState is the pod's plain request for each scored resource.
type balancedPreScoreState struct {
	podRequests []int64
}

// Clone shares the state: it never changes after PreScore.
func (s *balancedPreScoreState) Clone() framework.StateData { return s }

func isBestEffort(podRequests []int64) bool {
	for _, r := range podRequests {
		if r != 0 {
			return false
		}
	}
	return true
}

// PreScore computes the pod's requests. A pod requesting none of the scored resources skips Score, as
// upstream (kubernetes/kubernetes#129138): it would not change any node's balance, and scoring it would
// pile such pods onto the already most balanced node.
func (ba *BalancedAllocation) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	podRequests := ba.podRequests(pod)
	if isBestEffort(podRequests) {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(balancedPreScoreStateKey, &balancedPreScoreState{podRequests: podRequests})
	return nil
}

// Score favours nodes whose balance the pod improves. Balance is 1 minus the standard deviation of the
// requested/allocatable fractions of the scored resources, times MaxNodeScore (50..100 for fractions in
// 0..1). As upstream since kubernetes/kubernetes#135573, the score is
// MaxNodeScore/2 + (MaxNodeScore/2 + balanceWithPod - balanceWithoutPod)/2: 75 when the pod changes
// nothing, 100 when it turns a fully unbalanced node into a balanced one, 50 for the reverse.
func (ba *BalancedAllocation) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	var podRequests []int64
	if c, err := state.Read(balancedPreScoreStateKey); err == nil {
		if s, ok := c.(*balancedPreScoreState); ok {
			podRequests = s.podRequests
		}
	}
	if podRequests == nil {
		// PreScore did not run: compute here, as upstream does.
		podRequests = ba.podRequests(pod)
		if isBestEffort(podRequests) {
			return 0, nil
		}
	}
	return ba.score(nodeInfo, podRequests), nil
}

func (ba *BalancedAllocation) score(ni *framework.NodeInfo, podRequests []int64) int64 {
	with := ba.balancedResourceScore(ni, podRequests, true)
	without := ba.balancedResourceScore(ni, podRequests, false)
	return framework.MaxNodeScore/2 + (framework.MaxNodeScore/2+with-without)/2
}

// ScoreExtensions implements framework.ScorePlugin: scores need no normalization.
func (ba *BalancedAllocation) ScoreExtensions() framework.ScoreExtensions { return nil }
