package testing

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"

	"skiff/internal/scheduler/framework"
)

// FakeHandle is a framework.Handle serving a fixed snapshot, for plugin tests; the Run* methods do nothing.
type FakeHandle struct{ Snap *framework.Snapshot }

var _ framework.Handle = &FakeHandle{}

// SnapshotSharedLister implements framework.Handle.
func (h *FakeHandle) SnapshotSharedLister() framework.SharedLister {
	if h.Snap == nil {
		return nil
	}
	return h.Snap
}

// ClientSet implements framework.Handle.
func (h *FakeHandle) ClientSet() kubernetes.Interface { return nil }

// EventRecorder implements framework.Handle.
func (h *FakeHandle) EventRecorder() events.EventRecorder { return nil }

// RunFilterPlugins implements framework.Handle.
func (h *FakeHandle) RunFilterPlugins(context.Context, *framework.CycleState, *corev1.Pod, *framework.NodeInfo) *framework.Status {
	return nil
}

// RunPreFilterExtensionRemovePod implements framework.Handle.
func (h *FakeHandle) RunPreFilterExtensionRemovePod(context.Context, *framework.CycleState, *corev1.Pod, *framework.PodInfo, *framework.NodeInfo) *framework.Status {
	return nil
}

// RunPreFilterExtensionAddPod implements framework.Handle.
func (h *FakeHandle) RunPreFilterExtensionAddPod(context.Context, *framework.CycleState, *corev1.Pod, *framework.PodInfo, *framework.NodeInfo) *framework.Status {
	return nil
}

// NewSnapshot puts each pod on the node named by its spec.nodeName.
func NewSnapshot(nodes []*corev1.Node, pods []*corev1.Pod) *framework.Snapshot {
	infos := make([]*framework.NodeInfo, 0, len(nodes))
	byName := map[string]*framework.NodeInfo{}
	for _, n := range nodes {
		ni := framework.NewNodeInfo()
		ni.SetNode(n)
		infos = append(infos, ni)
		byName[n.Name] = ni
	}
	for _, p := range pods {
		if ni := byName[p.Spec.NodeName]; ni != nil {
			ni.AddPod(framework.NewPodInfo(p))
		}
	}
	return framework.NewSnapshot(infos)
}
