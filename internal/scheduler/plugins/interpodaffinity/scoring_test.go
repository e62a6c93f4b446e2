package interpodaffinity

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

func TestScore(t *testing.T) {
	threeNodes := []*corev1.Node{
		st.MakeNode().Name("node-a").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-b").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-x").Label(zone, "zone2").Obj(),
	}
	s1Pod := func(name, node string) *corev1.Pod {
		return st.MakePod().Name(name).Node(node).Label("security", "S1").Obj()
	}
	w0 := int32(0)
	w3 := int32(3)
	tests := []struct {
		name string
		args runtime.Object
		pod  *corev1.Pod
		pods []*corev1.Pod
		skip bool
		raw  map[string]int64
		want map[string]int64
	}{
		{
			name: "no terms anywhere: Skip",
			pod:  st.MakePod().Name("p").Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			skip: true,
		},
		{
			name: "preferred affinity by zone",
			pod:  st.MakePod().Name("p").Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(5, term(zone, s1))}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			raw:  map[string]int64{"node-a": 5, "node-b": 5, "node-x": 0},
			want: map[string]int64{"node-a": 100, "node-b": 100, "node-x": 0},
		},
		{
			name: "preferred anti-affinity by zone",
			pod:  st.MakePod().Name("p").Affinity(aff{preferNot: []corev1.WeightedPodAffinityTerm{weighted(5, term(zone, s1))}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			raw:  map[string]int64{"node-a": -5, "node-b": -5, "node-x": 0},
			want: map[string]int64{"node-a": 0, "node-b": 0, "node-x": 100},
		},
		{
			name: "affinity and anti-affinity add up per matching pod",
			pod: st.MakePod().Name("p").Affinity(aff{
				prefer:    []corev1.WeightedPodAffinityTerm{weighted(5, term(zone, s1))},
				preferNot: []corev1.WeightedPodAffinityTerm{weighted(3, term(hostname, s1))}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a"), s1Pod("e2", "node-x"), s1Pod("e3", "node-x")},
			// zone1: +5; zone2: +10; node-a: -3; node-x: -6.
			raw:  map[string]int64{"node-a": 2, "node-b": 5, "node-x": 4},
			want: map[string]int64{"node-a": 0, "node-b": 100, "node-x": 66},
		},
		{
			name: "preferred terms ignore other namespaces",
			pod:  st.MakePod().Name("p").Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(5, term(zone, s1))}}.obj()).Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Label("security", "S1").Obj()},
			skip: true,
		},
		{
			name: "existing pod's required affinity counts with hardPodAffinityWeight (default 1)",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, web)}}.obj()).Obj()},
			raw:  map[string]int64{"node-a": 1, "node-b": 1, "node-x": 0},
			want: map[string]int64{"node-a": 100, "node-b": 100, "node-x": 0},
		},
		{
			name: "hardPodAffinityWeight 3",
			args: &configv1.InterPodAffinityArgs{HardPodAffinityWeight: &w3},
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{req: []corev1.PodAffinityTerm{term(hostname, web)}}.obj()).Obj()},
			raw:  map[string]int64{"node-a": 3, "node-b": 0, "node-x": 0},
			want: map[string]int64{"node-a": 100, "node-b": 0, "node-x": 0},
		},
		{
			name: "hardPodAffinityWeight 0 ignores existing required affinity",
			args: &configv1.InterPodAffinityArgs{HardPodAffinityWeight: &w0},
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, web)}}.obj()).Obj()},
			skip: true,
		},
		{
			name: "existing pod's preferred affinity",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(7, term(hostname, web))}}.obj()).Obj()},
			raw:  map[string]int64{"node-a": 7, "node-b": 0, "node-x": 0},
			want: map[string]int64{"node-a": 100, "node-b": 0, "node-x": 0},
		},
		{
			name: "existing pod's preferred anti-affinity",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{preferNot: []corev1.WeightedPodAffinityTerm{weighted(7, term(zone, web))}}.obj()).Obj()},
			raw:  map[string]int64{"node-a": -7, "node-b": -7, "node-x": 0},
			want: map[string]int64{"node-a": 0, "node-b": 0, "node-x": 100},
		},
		{
			name: "existing pod's terms cover its own namespace only",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(7, term(hostname, web))}}.obj()).Obj()},
			skip: true,
		},
		{
			name: "ignorePreferredTermsOfExistingPods: Skip when the pod has no preferred terms",
			args: &configv1.InterPodAffinityArgs{IgnorePreferredTermsOfExistingPods: true},
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(7, term(hostname, web))}}.obj()).Obj()},
			skip: true,
		},
		{
			name: "ignorePreferredTermsOfExistingPods: existing terms still count when the pod has preferred terms",
			args: &configv1.InterPodAffinityArgs{IgnorePreferredTermsOfExistingPods: true},
			pod:  st.MakePod().Name("p").Label("app", "web").Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(5, term(zone, s1))}}.obj()).Obj(),
			pods: []*corev1.Pod{
				s1Pod("e1", "node-x"),
				st.MakePod().Name("e2").Node("node-a").Affinity(aff{prefer: []corev1.WeightedPodAffinityTerm{weighted(7, term(hostname, web))}}.obj()).Obj()},
			raw:  map[string]int64{"node-a": 7, "node-b": 0, "node-x": 5},
			want: map[string]int64{"node-a": 100, "node-b": 0, "node-x": 71},
		},
		{
			name: "negative and positive scores normalize over [min, max]",
			pod: st.MakePod().Name("p").Affinity(aff{
				prefer:    []corev1.WeightedPodAffinityTerm{weighted(10, term(hostname, s1))},
				preferNot: []corev1.WeightedPodAffinityTerm{weighted(5, term(hostname, web))}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-x"), st.MakePod().Name("e2").Node("node-a").Label("app", "web").Obj()},
			raw:  map[string]int64{"node-a": -5, "node-b": 0, "node-x": 10},
			want: map[string]int64{"node-a": 0, "node-b": 33, "node-x": 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			snap := newSnapshot(threeNodes, tt.pods)
			pl := newPlugin(t, tt.args, &fakeHandle{Snap: snap})
			cs := framework.NewCycleState()
			s := pl.PreScore(ctx, cs, tt.pod, snap.List())
			if tt.skip {
				if !s.IsSkip() {
					t.Fatalf("PreScore: %v, want Skip", s.Code())
				}
				return
			}
			if !s.IsSuccess() {
				t.Fatalf("PreScore: %v %s", s.Code(), s.Message())
			}
			var scores framework.NodeScoreList
			for _, ni := range snap.List() {
				sc, st := pl.Score(ctx, cs, tt.pod, ni)
				if !st.IsSuccess() {
					t.Fatal(st.Message())
				}
				if sc != tt.raw[ni.NodeName()] {
					t.Errorf("raw %s: %d, want %d", ni.NodeName(), sc, tt.raw[ni.NodeName()])
				}
				scores = append(scores, framework.NodeScore{Name: ni.NodeName(), Score: sc})
			}
			if st := pl.NormalizeScore(ctx, cs, tt.pod, scores); !st.IsSuccess() {
				t.Fatal(st.Message())
			}
			for _, ns := range scores {
				if ns.Score != tt.want[ns.Name] {
					t.Errorf("%s: %d, want %d", ns.Name, ns.Score, tt.want[ns.Name])
				}
			}
		})
	}
}

func TestScoreWithoutPreScoreIsError(t *testing.T) {
	snap := newSnapshot(nodes(), nil)
	pl := newPlugin(t, nil, &fakeHandle{Snap: snap})
	ni, _ := snap.Get("node-a")
	if _, s := pl.Score(context.Background(), framework.NewCycleState(), st.MakePod().Obj(), ni); s.Code() != framework.Error {
		t.Fatalf("got %v, want Error", s.Code())
	}
}
