package testing

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodWrapper builds a pod.
type PodWrapper struct{ corev1.Pod }

// MakePod starts a pod in namespace default with one container.
func MakePod() *PodWrapper {
	return &PodWrapper{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}, SchedulerName: "default-scheduler"}}}
}

// Obj returns the pod.
func (p *PodWrapper) Obj() *corev1.Pod { return &p.Pod }

// Name sets name and a uid derived from it.
func (p *PodWrapper) Name(n string) *PodWrapper {
	p.Pod.Name, p.Pod.UID = n, types.UID("uid-"+n)
	return p
}

// Namespace sets the namespace.
func (p *PodWrapper) Namespace(ns string) *PodWrapper { p.Pod.Namespace = ns; return p }

// UID sets the uid.
func (p *PodWrapper) UID(uid string) *PodWrapper { p.Pod.UID = types.UID(uid); return p }

// Node sets spec.nodeName.
func (p *PodWrapper) Node(n string) *PodWrapper { p.Spec.NodeName = n; return p }

// Label adds a label.
func (p *PodWrapper) Label(k, v string) *PodWrapper {
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[k] = v
	return p
}

// Priority sets spec.priority.
func (p *PodWrapper) Priority(v int32) *PodWrapper { p.Spec.Priority = &v; return p }

// Req sets the first container's requests, e.g. Req(map[string]string{"cpu": "500m", "memory": "1Gi"}).
func (p *PodWrapper) Req(r map[string]string) *PodWrapper {
	p.Spec.Containers[0].Resources.Requests = ResourceList(r)
	return p
}

// Container appends a container with requests.
func (p *PodWrapper) Container(name string, r map[string]string) *PodWrapper {
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: name, Image: "busybox", Resources: corev1.ResourceRequirements{Requests: ResourceList(r)}})
	return p
}

// InitReq appends an init container with requests.
func (p *PodWrapper) InitReq(r map[string]string) *PodWrapper {
	p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "init", Image: "busybox", Resources: corev1.ResourceRequirements{Requests: ResourceList(r)}})
	return p
}

// HostPort adds a container host port.
func (p *PodWrapper) HostPort(port int32, proto corev1.Protocol) *PodWrapper {
	p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto})
	return p
}

// NodeSelector sets spec.nodeSelector.
func (p *PodWrapper) NodeSelector(m map[string]string) *PodWrapper { p.Spec.NodeSelector = m; return p }

// Toleration adds a toleration.
func (p *PodWrapper) Toleration(t corev1.Toleration) *PodWrapper {
	p.Spec.Tolerations = append(p.Spec.Tolerations, t)
	return p
}

// Affinity sets spec.affinity.
func (p *PodWrapper) Affinity(a *corev1.Affinity) *PodWrapper { p.Spec.Affinity = a; return p }

// SpreadConstraint adds a topology spread constraint on the given labels.
func (p *PodWrapper) SpreadConstraint(maxSkew int32, key string, when corev1.UnsatisfiableConstraintAction, selector map[string]string) *PodWrapper {
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
		MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: &metav1.LabelSelector{MatchLabels: selector}})
	return p
}

// NodeWrapper builds a node.
type NodeWrapper struct{ corev1.Node }

// MakeNode starts a ready node with room for 110 pods.
func MakeNode() *NodeWrapper {
	n := &NodeWrapper{}
	n.Status.Capacity = ResourceList(map[string]string{"pods": "110"})
	n.Status.Allocatable = ResourceList(map[string]string{"pods": "110"})
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	return n
}

// Obj returns the node.
func (n *NodeWrapper) Obj() *corev1.Node { return &n.Node }

// Name sets the name and the kubernetes.io/hostname label.
func (n *NodeWrapper) Name(name string) *NodeWrapper {
	n.Node.Name, n.Node.UID = name, types.UID("uid-"+name)
	return n.Label(corev1.LabelHostname, name)
}

// Label adds a label.
func (n *NodeWrapper) Label(k, v string) *NodeWrapper {
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels[k] = v
	return n
}

// Capacity sets capacity and allocatable (pods default to 110).
func (n *NodeWrapper) Capacity(r map[string]string) *NodeWrapper {
	rl := ResourceList(r)
	if _, ok := rl[corev1.ResourcePods]; !ok {
		rl[corev1.ResourcePods] = resource.MustParse("110")
	}
	n.Status.Capacity, n.Status.Allocatable = rl, rl.DeepCopy()
	return n
}

// Taint adds a taint.
func (n *NodeWrapper) Taint(key, value string, effect corev1.TaintEffect) *NodeWrapper {
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	return n
}

// Unschedulable sets spec.unschedulable.
func (n *NodeWrapper) Unschedulable() *NodeWrapper { n.Spec.Unschedulable = true; return n }

// Images adds images present on the node.
func (n *NodeWrapper) Images(sizes map[string]int64) *NodeWrapper {
	for name, size := range sizes {
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{name}, SizeBytes: size})
	}
	return n
}

// ResourceList parses a map of quantities.
func ResourceList(r map[string]string) corev1.ResourceList {
	rl := corev1.ResourceList{}
	for k, v := range r {
		rl[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	return rl
}
