// Package nodeports implements the NodePorts plugin: a pod's host ports must be free on the node, where a
// port bound on 0.0.0.0 conflicts with the same protocol and port on any IP, as upstream.
package nodeports

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "NodePorts"

// ErrReason is the failure reason, as upstream prints it in FailedScheduling events.
const ErrReason = "node(s) didn't have free ports for the requested pod ports"

// defaultBindAllHostIP is the wildcard host IP (an empty hostIP means it).
const defaultBindAllHostIP = "0.0.0.0"

const preFilterStateKey framework.StateKey = "PreFilter" + Name

// NodePorts is the plugin. It is stateless.
type NodePorts struct{}

var (
	_ framework.PreFilterPlugin   = &NodePorts{}
	_ framework.FilterPlugin      = &NodePorts{}
	_ framework.EnqueueExtensions = &NodePorts{}
	_ framework.Factory           = New
)

// New builds the plugin. It takes no arguments; like upstream it ignores any it is given.
func New(_ runtime.Object, _ framework.Handle) (framework.Plugin, error) {
	return &NodePorts{}, nil
}

// Name implements framework.Plugin.
func (pl *NodePorts) Name() string { return Name }

// EventsToRegister: a pod going away frees its ports; a new node has all ports free. Taint and label
// updates are registered with Node/Add, as upstream does when queueing hints are off.
func (pl *NodePorts) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventPod, ActionType: framework.Delete},
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeTaint | framework.UpdateNodeLabel},
	}
}

// preFilterState is the pod's host ports (hostIP defaulted to 0.0.0.0, protocol to TCP).
type preFilterState []framework.HostPort

// Clone shares the state: the pod's ports do not change when preemption adds or removes other pods.
func (s preFilterState) Clone() framework.StateData { return s }

// PreFilter collects the host ports of the pod's containers and init containers. A pod without host ports
// skips Filter.
func (pl *NodePorts) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod) (*framework.PreFilterResult, *framework.Status) {
	ports := framework.PodHostPorts(pod)
	if len(ports) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	state.Write(preFilterStateKey, preFilterState(ports))
	return nil, nil
}

// Filter rejects a node where one of the pod's host ports is taken. The rejection is resolvable: preempting
// the pod holding the port frees it.
func (pl *NodePorts) Filter(_ context.Context, state *framework.CycleState, _ *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	c, err := state.Read(preFilterStateKey)
	if err != nil {
		return framework.AsStatus(fmt.Errorf("reading %q from cycleState: %w", preFilterStateKey, err))
	}
	want, ok := c.(preFilterState)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%+v convert to nodeports.preFilterState error", c))
	}
	if !fitsPorts(want, nodeInfo.UsedPorts) {
		return framework.NewStatus(framework.Unschedulable, ErrReason)
	}
	return nil
}

// Fits reports whether the pod's host ports are all free on the node.
func Fits(pod *corev1.Pod, nodeInfo *framework.NodeInfo) bool {
	return fitsPorts(framework.PodHostPorts(pod), nodeInfo.UsedPorts)
}

func fitsPorts(want []framework.HostPort, used map[framework.HostPort]struct{}) bool {
	if len(used) == 0 {
		return true
	}
	for _, hp := range want {
		if conflicts(used, hp) {
			return false
		}
	}
	return true
}

// conflicts reports whether hp collides with a port in use: a wildcard (0.0.0.0) port collides with the same
// protocol and port on any IP; a specific IP collides with itself and with the wildcard.
func conflicts(used map[framework.HostPort]struct{}, hp framework.HostPort) bool {
	if hp.Port <= 0 {
		return false
	}
	if hp.IP == "" {
		hp.IP = defaultBindAllHostIP
	}
	if hp.Protocol == "" {
		hp.Protocol = corev1.ProtocolTCP
	}
	if hp.IP == defaultBindAllHostIP {
		for u := range used {
			if u.Port == hp.Port && u.Protocol == hp.Protocol {
				return true
			}
		}
		return false
	}
	if _, ok := used[hp]; ok {
		return true
	}
	_, ok := used[framework.HostPort{IP: defaultBindAllHostIP, Protocol: hp.Protocol, Port: hp.Port}]
	return ok
}
