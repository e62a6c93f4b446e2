// Package nodeunschedulable implements the NodeUnschedulable plugin: cordoned nodes (spec.unschedulable) are
// filtered out unless the pod tolerates the node.kubernetes.io/unschedulable:NoSchedule taint, as upstream.
package nodeunschedulable

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "NodeUnschedulable"

// Failure reasons, as upstream prints them in FailedScheduling events.
const (
	// ErrReasonUnschedulable is returned for a cordoned node the pod does not tolerate.
	ErrReasonUnschedulable = "node(s) were unschedulable"
	// ErrReasonUnknownCondition is upstream's reason for a NodeInfo without a node.
	ErrReasonUnknownCondition = "node(s) had unknown conditions"
)

// NodeUnschedulable is the plugin. It is stateless.
type NodeUnschedulable struct{}

var (
	_ framework.FilterPlugin      = &NodeUnschedulable{}
	_ framework.EnqueueExtensions = &NodeUnschedulable{}
	_ framework.Factory           = New
)

// unschedulableTaint is the taint a cordoned node behaves as if it had.
var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// New builds the plugin. It takes no arguments; like upstream it ignores any it is given.
func New(_ runtime.Object, _ framework.Handle) (framework.Plugin, error) {
	return &NodeUnschedulable{}, nil
}

// Name implements framework.Plugin.
func (pl *NodeUnschedulable) Name() string { return Name }

// EventsToRegister: a node appearing, or a node being uncordoned (which the queue reports as a taint
// change, spec.unschedulable being the unschedulable taint in disguise). Label updates are registered too,
// as upstream does for every plugin that registers Node/Add (a node may only become visible through them).
// Pod toleration updates need no registration: an update to the unschedulable pod itself re-queues it.
func (pl *NodeUnschedulable) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeTaint | framework.UpdateNodeLabel},
	}
}

// Filter rejects a cordoned node unless the pod tolerates node.kubernetes.io/unschedulable:NoSchedule.
// The rejection is unresolvable: evicting pods does not uncordon a node.
func (pl *NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	node := nodeInfo.Node
	if node == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnknownCondition)
	}
	if !node.Spec.Unschedulable {
		return nil
	}
	if toleratesUnschedulable(pod) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnschedulable)
}

func toleratesUnschedulable(pod *corev1.Pod) bool {
	for i := range pod.Spec.Tolerations {
		// Comparison operators (Gt/Lt) stay off: the API server does not accept them.
		if pod.Spec.Tolerations[i].ToleratesTaint(klog.Logger{}, &unschedulableTaint, false) {
			return true
		}
	}
	return false
}
