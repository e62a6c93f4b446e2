// Package nodename implements the NodeName plugin: a pod that names a node in spec.nodeName fits only that
// node, as upstream.
package nodename

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "NodeName"

// ErrReason is the failure reason, as upstream prints it in FailedScheduling events.
const ErrReason = "node(s) didn't match the requested node name"

// NodeName is the plugin. It is stateless.
type NodeName struct{}

var (
	_ framework.FilterPlugin      = &NodeName{}
	_ framework.EnqueueExtensions = &NodeName{}
	_ framework.Factory           = New
)

// New builds the plugin. It takes no arguments; like upstream it ignores any it is given.
func New(_ runtime.Object, _ framework.Handle) (framework.Plugin, error) {
	return &NodeName{}, nil
}

// Name implements framework.Plugin.
func (pl *NodeName) Name() string { return Name }

// EventsToRegister: only a new node (the named one appearing) can help. Taint and label updates are
// registered as well, as upstream does for every plugin registering Node/Add (a node filtered out before it
// became ready may only be noticed through them).
func (pl *NodeName) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeTaint | framework.UpdateNodeLabel},
	}
}

// Filter rejects every node but the one the pod names. The rejection is unresolvable.
func (pl *NodeName) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	if !Fits(pod, nodeInfo) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReason)
	}
	return nil
}

// Fits reports whether the pod names no node or names this one.
func Fits(pod *corev1.Pod, nodeInfo *framework.NodeInfo) bool {
	return pod.Spec.NodeName == "" || (nodeInfo.Node != nil && pod.Spec.NodeName == nodeInfo.Node.Name)
}
