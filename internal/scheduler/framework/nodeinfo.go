package framework

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodInfo is a pod with what plugins need of it computed once.
type PodInfo struct {
	Pod              *corev1.Pod
	Requests         *Resource
	NonZeroRequests  *Resource
	HasAffinity      bool // any pod affinity or anti-affinity term
	HasRequiredAnti  bool // required pod anti-affinity terms
	RequiredAffinity bool // required pod affinity terms
}

// NewPodInfo computes a pod's PodInfo.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod, Requests: PodRequests(pod), NonZeroRequests: PodNonZeroRequests(pod)}
	if a := pod.Spec.Affinity; a != nil {
		if a.PodAffinity != nil {
			pi.HasAffinity = pi.HasAffinity || len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 || len(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0
			pi.RequiredAffinity = len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
		}
		if a.PodAntiAffinity != nil {
			pi.HasAffinity = pi.HasAffinity || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0
			pi.HasRequiredAnti = len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
		}
	}
	return pi
}

// HostPort is one host port in use on a node.
type HostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

// NodeInfo is one node with the pods on it (bound or assumed) and their summed requests.
type NodeInfo struct {
	Node *corev1.Node
	Pods []*PodInfo
	// PodsWithAffinity and PodsWithRequiredAntiAffinity index pods that inter-pod affinity must look at.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	UsedPorts                    map[HostPort]struct{}
	Requested                    *Resource
	NonZeroRequested             *Resource
	Allocatable                  *Resource
	// ImageStates: images present on this node (by every name they have), with how many nodes have them.
	ImageStates map[string]*ImageState
	// Generation changes whenever the node or its pods change; snapshots copy only changed NodeInfos.
	Generation int64
}

// ImageState is one image on a node.
type ImageState struct {
	Size     int64
	NumNodes int
}

// NewNodeInfo returns an empty NodeInfo holding pods.
func NewNodeInfo(pods ...*corev1.Pod) *NodeInfo {
	n := &NodeInfo{Requested: &Resource{}, NonZeroRequested: &Resource{}, Allocatable: &Resource{}, UsedPorts: map[HostPort]struct{}{}, ImageStates: map[string]*ImageState{}}
	for _, p := range pods {
		n.AddPod(NewPodInfo(p))
	}
	return n
}

// SetNode sets the node and its allocatable resources.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Allocatable = NewResource(node.Status.Allocatable)
}

// AddPod accounts for a pod on the node.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	n.Pods = append(n.Pods, pi)
	if pi.HasAffinity {
		n.PodsWithAffinity = append(n.PodsWithAffinity, pi)
	}
	if pi.HasRequiredAnti {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, pi)
	}
	n.Requested.AddResource(pi.Requests)
	n.NonZeroRequested.AddResource(pi.NonZeroRequests)
	for _, hp := range PodHostPorts(pi.Pod) {
		n.UsedPorts[hp] = struct{}{}
	}
}

// RemovePod takes a pod off the node.
func (n *NodeInfo) RemovePod(pod *corev1.Pod) error {
	i := n.indexOf(pod.UID)
	if i < 0 {
		return fmt.Errorf("pod %s/%s not on node %s", pod.Namespace, pod.Name, n.NodeName())
	}
	pi := n.Pods[i]
	n.Pods = append(n.Pods[:i:i], n.Pods[i+1:]...)
	n.PodsWithAffinity = removeUID(n.PodsWithAffinity, pod.UID)
	n.PodsWithRequiredAntiAffinity = removeUID(n.PodsWithRequiredAntiAffinity, pod.UID)
	n.Requested.SubResource(pi.Requests)
	n.NonZeroRequested.SubResource(pi.NonZeroRequests)
	for _, hp := range PodHostPorts(pi.Pod) {
		delete(n.UsedPorts, hp)
	}
	return nil
}

func (n *NodeInfo) indexOf(uid types.UID) int {
	for i, p := range n.Pods {
		if p.Pod.UID == uid {
			return i
		}
	}
	return -1
}

func removeUID(list []*PodInfo, uid types.UID) []*PodInfo {
	for i, p := range list {
		if p.Pod.UID == uid {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// NodeName returns the node's name ("" when the node object is not known).
func (n *NodeInfo) NodeName() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// Clone copies the NodeInfo so the copy can change (preemption simulation) without touching the original.
// Pods themselves are shared and must not be modified.
func (n *NodeInfo) Clone() *NodeInfo {
	out := &NodeInfo{
		Node:                         n.Node,
		Pods:                         append([]*PodInfo(nil), n.Pods...),
		PodsWithAffinity:             append([]*PodInfo(nil), n.PodsWithAffinity...),
		PodsWithRequiredAntiAffinity: append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...),
		UsedPorts:                    make(map[HostPort]struct{}, len(n.UsedPorts)),
		Requested:                    n.Requested.Clone(),
		NonZeroRequested:             n.NonZeroRequested.Clone(),
		Allocatable:                  n.Allocatable.Clone(),
		ImageStates:                  n.ImageStates,
		Generation:                   n.Generation,
	}
	for k := range n.UsedPorts {
		out.UsedPorts[k] = struct{}{}
	}
	return out
}

// PodHostPorts lists the host ports a pod's containers bind (hostIP defaults to 0.0.0.0, protocol to TCP).
func PodHostPorts(pod *corev1.Pod) []HostPort {
	var out []HostPort
	add := func(cs []corev1.Container) {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := HostPort{IP: p.HostIP, Protocol: p.Protocol, Port: p.HostPort}
				if hp.IP == "" {
					hp.IP = "0.0.0.0"
				}
				if hp.Protocol == "" {
					hp.Protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}
