package podtopologyspread

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// bigCluster: 5,000 nodes in 10 zones and 10,000 pods of 100 apps, two per node.
func bigCluster() *framework.Snapshot {
	const nNodes, nPods = 5000, 10000
	nodes := make([]*corev1.Node, nNodes)
	for i := range nodes {
		nodes[i] = st.MakeNode().Name(fmt.Sprintf("node-%d", i)).Label(zone, fmt.Sprintf("zone-%d", i%10)).Obj()
	}
	pods := make([]*corev1.Pod, nPods)
	for i := range pods {
		pods[i] = st.MakePod().Name(fmt.Sprintf("pod-%d", i)).Node(nodes[i%nNodes].Name).Label("app", fmt.Sprintf("app-%d", i%100)).Obj()
	}
	return newSnapshot(nodes, pods)
}

func BenchmarkPreFilterFilter5000Nodes(b *testing.B) {
	snap := bigCluster()
	pl := newPlugin(b, nil, snap)
	sel := map[string]string{"app": "app-7"}
	pod := withConstraints(st.MakePod().Name("incoming").Label("app", "app-7").Obj(),
		tsc(1, zone, dns, sel), tsc(1, corev1.LabelHostname, dns, sel))
	nodes := snap.List()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cs := framework.NewCycleState()
		if _, s := pl.PreFilter(ctx, cs, pod); !s.IsSuccess() {
			b.Fatal(s.Message())
		}
		fit := 0
		for _, ni := range nodes {
			if pl.Filter(ctx, cs, pod, ni).IsSuccess() {
				fit++
			}
		}
		if fit == 0 {
			b.Fatal("no node fits")
		}
	}
}

func BenchmarkPreScoreScore5000Nodes(b *testing.B) {
	snap := bigCluster()
	pl := newPlugin(b, nil, snap)
	sel := map[string]string{"app": "app-7"}
	pod := withConstraints(st.MakePod().Name("incoming").Label("app", "app-7").Obj(),
		tsc(1, zone, sa, sel), tsc(1, corev1.LabelHostname, sa, sel))
	nodes := snap.List()
	ctx := context.Background()
	scores := make(framework.NodeScoreList, len(nodes))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cs := framework.NewCycleState()
		if s := pl.PreScore(ctx, cs, pod, nodes); !s.IsSuccess() {
			b.Fatal(s.Message())
		}
		for i, ni := range nodes {
			sc, _ := pl.Score(ctx, cs, pod, ni)
			scores[i] = framework.NodeScore{Name: ni.NodeName(), Score: sc}
		}
		_ = pl.NormalizeScore(ctx, cs, pod, scores)
	}
}
