package podtopologyspread

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"

	"skiff/internal/scheduler/framework"
)

// fakeHandle serves a fixed snapshot.
type fakeHandle struct{ snap *framework.Snapshot }

func (h *fakeHandle) SnapshotSharedLister() framework.SharedLister {
	if h.snap == nil {
		return nil
	}
	return h.snap
}
func (h *fakeHandle) ClientSet() kubernetes.Interface     { return nil }
func (h *fakeHandle) EventRecorder() events.EventRecorder { return nil }
func (h *fakeHandle) RunFilterPlugins(context.Context, *framework.CycleState, *corev1.Pod, *framework.NodeInfo) *framework.Status {
	return nil
}
func (h *fakeHandle) RunPreFilterExtensionRemovePod(context.Context, *framework.CycleState, *corev1.Pod, *framework.PodInfo, *framework.NodeInfo) *framework.Status {
	return nil
}
func (h *fakeHandle) RunPreFilterExtensionAddPod(context.Context, *framework.CycleState, *corev1.Pod, *framework.PodInfo, *framework.NodeInfo) *framework.Status {
	return nil
}

var _ framework.Handle = &fakeHandle{}

// newSnapshot puts each pod on the node named by its spec.nodeName.
func newSnapshot(nodes []*corev1.Node, pods []*corev1.Pod) *framework.Snapshot {
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

func newPlugin(t testing.TB, args runtime.Object, snap *framework.Snapshot) *PodTopologySpread {
	t.Helper()
	p, err := New(args, &fakeHandle{snap: snap})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*PodTopologySpread)
}

// tsc builds a constraint; options tweak it.
func tsc(maxSkew int32, key string, when corev1.UnsatisfiableConstraintAction, sel map[string]string, opts ...func(*corev1.TopologySpreadConstraint)) corev1.TopologySpreadConstraint {
	c := corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when}
	if sel != nil {
		c.LabelSelector = &metav1.LabelSelector{MatchLabels: sel}
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func minDomains(n int32) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.MinDomains = &n }
}

func affinityPolicy(p corev1.NodeInclusionPolicy) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.NodeAffinityPolicy = &p }
}

func taintsPolicy(p corev1.NodeInclusionPolicy) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.NodeTaintsPolicy = &p }
}

func matchLabelKeys(keys ...string) func(*corev1.TopologySpreadConstraint) {
	return func(c *corev1.TopologySpreadConstraint) { c.MatchLabelKeys = keys }
}

func withConstraints(p *corev1.Pod, cs ...corev1.TopologySpreadConstraint) *corev1.Pod {
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, cs...)
	return p
}

func ownedBy(p *corev1.Pod, apiVersion, kind, name string) *corev1.Pod {
	yes := true
	p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: "uid-" + "owner-" + "x", Controller: &yes})
	return p
}
