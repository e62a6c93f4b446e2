package interpodaffinity

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// bigCluster: 5,000 nodes in 10 zones and 10,000 pods of 100 apps, two per node; one pod in ten has a
// required anti-affinity to its own app by hostname, one in twenty a preferred affinity to it by zone.
func bigCluster() *framework.Snapshot {
	const nNodes, nPods = 5000, 10000
	nodes := make([]*corev1.Node, nNodes)
	for i := range nodes {
		nodes[i] = st.MakeNode().Name(fmt.Sprintf("node-%d", i)).Label(zone, fmt.Sprintf("zone-%d", i%10)).Obj()
	}
	pods := make([]*corev1.Pod, nPods)
	for i := range pods {
		app := map[string]string{"app": fmt.Sprintf("app-%d", i%100)}
		w := st.MakePod().Name(fmt.Sprintf("pod-%d", i)).Node(nodes[i%nNodes].Name).Label("app", app["app"])
		switch {
		case i%10 == 0:
			w.Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, app)}}.obj())
		case i%20 == 5:
			w.Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(10, term(zone, app))}}.obj())
		}
		pods[i] = w.Obj()
	}
	return newSnapshot(nodes, pods)
}

func BenchmarkPreFilterFilter5000Nodes(b *testing.B) {
	snap := bigCluster()
	pl := newPlugin(b, nil, &fakeHandle{Snap: snap})
	// app-10's pods include some with anti-affinity to app-10, so every part of Filter has work.
	self := map[string]string{"app": "app-10"}
	pod := st.MakePod().Name("incoming").Label("app", "app-10").Affinity(aff{
		req:  []corev1.PodAffinityTerm{term(zone, map[string]string{"app": "app-3"})},
		anti: []corev1.PodAffinityTerm{term(hostname, self)},
	}.obj()).Obj()
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
	pl := newPlugin(b, nil, &fakeHandle{Snap: snap})
	pod := st.MakePod().Name("incoming").Label("app", "app-5").Affinity(aff{
		prefer:    []corev1.WeightedPodAffinityTerm{weighted(5, term(zone, map[string]string{"app": "app-3"}))},
		preferNot: []corev1.WeightedPodAffinityTerm{weighted(5, term(hostname, map[string]string{"app": "app-5"}))},
	}.obj()).Obj()
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
