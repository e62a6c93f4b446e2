// Package tainttoleration implements the TaintToleration plugin: a node's NoSchedule and NoExecute taints
// must all be tolerated (Filter), and nodes with fewer untolerated PreferNoSchedule taints score higher
// (Score), as upstream.
package tainttoleration

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "TaintToleration"

// ErrReasonUntolerated is the Filter failure reason. Upstream printed the first untolerated taint as
// "node(s) had untolerated taint {key: value}" until kubernetes/kubernetes#134740 (v1.35, backported to
// 1.32–1.34 patch releases) replaced it with this generic text: taint keys and values may be sensitive and
// pod status is readable by anyone who can read the pod. The taint is still logged, at V(4).
const ErrReasonUntolerated = "node(s) had untolerated taint(s)"

const preScoreStateKey framework.StateKey = "PreScore" + Name

// TaintToleration is the plugin. It is stateless.
type TaintToleration struct{}

var (
	_ framework.FilterPlugin      = &TaintToleration{}
	_ framework.PreScorePlugin    = &TaintToleration{}
	_ framework.ScorePlugin       = &TaintToleration{}
	_ framework.ScoreExtensions   = &TaintToleration{}
	_ framework.EnqueueExtensions = &TaintToleration{}
	_ framework.Factory           = New
)

// New builds the plugin. It takes no arguments; like upstream it ignores any it is given.
func New(_ runtime.Object, _ framework.Handle) (framework.Plugin, error) {
	return &TaintToleration{}, nil
}

// Name implements framework.Plugin.
func (pl *TaintToleration) Name() string { return Name }

// EventsToRegister: a node appearing or its taints changing. Label updates are registered too, as upstream
// does for every plugin registering Node/Add when queueing hints are off. A pod gaining a toleration needs
// no registration: an update to the unschedulable pod itself re-queues it.
func (pl *TaintToleration) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeTaint | framework.UpdateNodeLabel},
	}
}

// tolerates reports whether any toleration tolerates the taint. Comparison operators (Gt/Lt) stay off, as
// the API server does not accept them.
func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Logger{}, taint, false) {
			return true
		}
	}
	return false
}

// FindUntoleratedTaint returns the first NoSchedule or NoExecute taint of the node that no toleration
// tolerates.
func FindUntoleratedTaint(taints []corev1.Taint, tolerations []corev1.Toleration) (*corev1.Taint, bool) {
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(tolerations, t) {
			return t, true
		}
	}
	return nil, false
}

// Filter rejects a node with a NoSchedule or NoExecute taint the pod does not tolerate. The rejection is
// unresolvable: evicting pods does not remove taints.
func (pl *TaintToleration) Filter(ctx context.Context, _ *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	node := nodeInfo.Node
	if node == nil {
		return framework.AsStatus(fmt.Errorf("invalid nodeInfo"))
	}
	taint, untolerated := FindUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations)
	if !untolerated {
		return nil
	}
	klog.FromContext(ctx).V(4).Info("node had untolerated taints", "node", klog.KObj(node), "pod", klog.KObj(pod), "untoleratedTaint", taint)
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUntolerated)
}

// preScoreState holds the pod's tolerations that can tolerate PreferNoSchedule taints.
type preScoreState struct {
	tolerationsPreferNoSchedule []corev1.Toleration
}

// Clone shares the state: it never changes after PreScore.
func (s *preScoreState) Clone() framework.StateData { return s }

// PreScore keeps the tolerations whose effect is PreferNoSchedule or empty (empty tolerates every effect).
func (pl *TaintToleration) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	var tols []corev1.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			tols = append(tols, t)
		}
	}
	state.Write(preScoreStateKey, &preScoreState{tolerationsPreferNoSchedule: tols})
	return nil
}

// Score counts the node's PreferNoSchedule taints the pod does not tolerate; NormalizeScore turns fewer into
// higher.
func (pl *TaintToleration) Score(_ context.Context, state *framework.CycleState, _ *corev1.Pod, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	node := nodeInfo.Node
	if node == nil {
		return 0, framework.AsStatus(fmt.Errorf("invalid nodeInfo"))
	}
	c, err := state.Read(preScoreStateKey)
	if err != nil {
		return 0, framework.AsStatus(fmt.Errorf("reading %q from cycleState: %w", preScoreStateKey, err))
	}
	s, ok := c.(*preScoreState)
	if !ok {
		return 0, framework.AsStatus(fmt.Errorf("%+v convert to tainttoleration.preScoreState error", c))
	}
	var count int64
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !tolerates(s.tolerationsPreferNoSchedule, t) {
			count++
		}
	}
	return count, nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *TaintToleration) ScoreExtensions() framework.ScoreExtensions { return pl }

// NormalizeScore scales counts to [0, MaxNodeScore], reversed: the node with the most untolerated
// PreferNoSchedule taints gets 0, nodes with none get MaxNodeScore.
func (pl *TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, scores framework.NodeScoreList) *framework.Status {
	defaultNormalizeScore(framework.MaxNodeScore, true, scores)
	return nil
}

// defaultNormalizeScore scales scores so the highest becomes maxPriority (reversed: maxPriority minus that).
// When every score is 0 they all become maxPriority if reversed, and stay 0 otherwise.
func defaultNormalizeScore(maxPriority int64, reverse bool, scores framework.NodeScoreList) {
	var maxCount int64
	for i := range scores {
		if scores[i].Score > maxCount {
			maxCount = scores[i].Score
		}
	}
	if maxCount == 0 {
		if reverse {
			for i := range scores {
				scores[i].Score = maxPriority
			}
		}
		return
	}
	for i := range scores {
		score := maxPriority * scores[i].Score / maxCount
		if reverse {
			score = maxPriority - score
		}
		scores[i].Score = score
	}
}
