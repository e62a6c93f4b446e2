package podtopologyspread

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// score runs PreScore, Score and NormalizeScore over the named filtered nodes.
func score(t *testing.T, pl *PodTopologySpread, snap *framework.Snapshot, pod *corev1.Pod, filtered []string) (framework.NodeScoreList, *framework.Status) {
	t.Helper()
	ctx := context.Background()
	var infos []*framework.NodeInfo
	for _, n := range filtered {
		ni, err := snap.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, ni)
	}
	cs := framework.NewCycleState()
	if s := pl.PreScore(ctx, cs, pod, infos); !s.IsSuccess() {
		return nil, s
	}
	var scores framework.NodeScoreList
	for _, ni := range infos {
		sc, s := pl.Score(ctx, cs, pod, ni)
		if !s.IsSuccess() {
			t.Fatalf("Score(%s): %s", ni.NodeName(), s.Message())
		}
		scores = append(scores, framework.NodeScore{Name: ni.NodeName(), Score: sc})
	}
	raw := append(framework.NodeScoreList(nil), scores...)
	if s := pl.NormalizeScore(ctx, cs, pod, scores); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	t.Logf("raw %v normalized %v", raw, scores)
	return scores, nil
}

func TestScore(t *testing.T) {
	threeNodes := []*corev1.Node{
		st.MakeNode().Name("node-a").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-b").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-x").Label(zone, "zone2").Obj(),
	}
	layout := []*corev1.Pod{fooPod("a1", "node-a"), fooPod("a2", "node-a"), fooPod("b1", "node-b")}
	all := []string{"node-a", "node-b", "node-x"}
	tests := []struct {
		name     string
		args     runtime.Object
		pod      *corev1.Pod
		nodes    []*corev1.Node
		pods     []*corev1.Pod
		filtered []string
		skip     bool
		want     map[string]int64
	}{
		{
			name:     "no soft constraints: Skip",
			pod:      st.MakePod().Name("p").Label("foo", "").SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes:    threeNodes,
			filtered: all,
			skip:     true,
		},
		{
			// weight ln(3+2); raw a=round(2*1.609)=3, b=round(1.609)=2, x=0; 100*(3+0-s)/3.
			name:     "hostname",
			pod:      withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, corev1.LabelHostname, sa, foo)),
			nodes:    threeNodes,
			pods:     layout,
			filtered: all,
			want:     map[string]int64{"node-a": 0, "node-b": 33, "node-x": 100},
		},
		{
			// weight ln(2+2); zone1 3 pods: raw round(3*1.386)=4, zone2 0.
			name:     "zone",
			pod:      withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, zone, sa, foo)),
			nodes:    threeNodes,
			pods:     layout,
			filtered: all,
			want:     map[string]int64{"node-a": 0, "node-b": 0, "node-x": 100},
		},
		{
			// maxSkew 3 adds 2 to every raw score: a=5, b=4, x=2; 100*(5+2-s)/5.
			name:     "maxSkew softens the differences",
			pod:      withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(3, corev1.LabelHostname, sa, foo)),
			nodes:    threeNodes,
			pods:     layout,
			filtered: all,
			want:     map[string]int64{"node-a": 40, "node-b": 60, "node-x": 100},
		},
		{
			// hostname weight ln(5)=1.609, zone weight ln(4)=1.386:
			// a = 2*1.609 + 3*1.386 = 7.377 -> 7; b = 1.609 + 4.159 = 5.768 -> 6; x = 0.
			name: "two constraints add up",
			pod: withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(),
				tsc(1, corev1.LabelHostname, sa, foo), tsc(1, zone, sa, foo)),
			nodes:    threeNodes,
			pods:     layout,
			filtered: all,
			want:     map[string]int64{"node-a": 0, "node-b": 14, "node-x": 100},
		},
		{
			// Only node-a and node-x passed filtering, but pods on node-b still count for zone1.
			// weight ln(2+2): a = round(3*1.386) = 4, x = 0.
			name:     "domain counts include nodes that did not pass filtering",
			pod:      withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, zone, sa, foo)),
			nodes:    threeNodes,
			pods:     layout,
			filtered: []string{"node-a", "node-x"},
			want:     map[string]int64{"node-a": 0, "node-x": 100},
		},
		{
			name: "a node missing the topology key scores 0",
			pod:  withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, zone, sa, foo)),
			nodes: append(append([]*corev1.Node(nil), threeNodes...),
				st.MakeNode().Name("node-nolabel").Obj()),
			pods:     layout,
			filtered: []string{"node-a", "node-x", "node-nolabel"},
			want:     map[string]int64{"node-a": 0, "node-x": 100, "node-nolabel": 0},
		},
		{
			name:     "all equal: every node gets the maximum",
			pod:      withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, zone, sa, foo)),
			nodes:    threeNodes,
			filtered: all,
			want:     map[string]int64{"node-a": 100, "node-b": 100, "node-x": 100},
		},
		{
			// With Honor (default) the nodeSelector limits counted domains to zone1: zone2's pod is ignored.
			// The hostname weight uses the filtered nodes: ln(2+2).
			name: "nodeAffinityPolicy applies to scoring",
			pod: withConstraints(st.MakePod().Name("p").Label("foo", "").NodeSelector(map[string]string{zone: "zone1"}).Obj(),
				tsc(1, zone, sa, foo)),
			nodes:    threeNodes,
			pods:     []*corev1.Pod{fooPod("a1", "node-a"), fooPod("x1", "node-x"), fooPod("x2", "node-x")},
			filtered: []string{"node-a", "node-b"},
			want:     map[string]int64{"node-a": 100, "node-b": 100},
		},
		{
			name: "List defaulting: soft defaults score a ReplicaSet pod",
			args: &configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting,
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: sa}}},
			pod:   ownedBy(st.MakePod().Name("p").Label("app", "web").Obj(), "apps/v1", "ReplicaSet", "web"),
			nodes: threeNodes,
			pods: []*corev1.Pod{
				st.MakePod().Name("a1").Node("node-a").Label("app", "web").Obj(),
				st.MakePod().Name("a2").Node("node-a").Label("app", "web").Obj(),
				st.MakePod().Name("b1").Node("node-b").Label("app", "web").Obj(),
			},
			filtered: all,
			want:     map[string]int64{"node-a": 0, "node-b": 33, "node-x": 100},
		},
		{
			name:     "System defaulting without listers: Skip",
			pod:      ownedBy(st.MakePod().Name("p").Label("app", "web").Obj(), "apps/v1", "ReplicaSet", "web"),
			nodes:    threeNodes,
			filtered: all,
			skip:     true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := newSnapshot(tt.nodes, tt.pods)
			pl := newPlugin(t, tt.args, snap)
			got, s := score(t, pl, snap, tt.pod, tt.filtered)
			if tt.skip {
				if !s.IsSkip() {
					t.Fatalf("PreScore: %v, want Skip", s.Code())
				}
				return
			}
			if s != nil {
				t.Fatalf("PreScore: %v %s", s.Code(), s.Message())
			}
			for _, ns := range got {
				if ns.Score != tt.want[ns.Name] {
					t.Errorf("%s: %d, want %d", ns.Name, ns.Score, tt.want[ns.Name])
				}
			}
		})
	}
}

// informerHandle offers workload listers, filled directly through the informers' stores.
type informerHandle struct {
	fakeHandle
	factory informers.SharedInformerFactory
}

func (h *informerHandle) SharedInformerFactory() informers.SharedInformerFactory { return h.factory }

func TestSystemDefaultingWithListers(t *testing.T) {
	nodes := []*corev1.Node{
		st.MakeNode().Name("node-a").Label(corev1.LabelTopologyZone, "z1").Obj(),
		st.MakeNode().Name("node-b").Label(corev1.LabelTopologyZone, "z1").Obj(),
		st.MakeNode().Name("node-x").Obj(), // no zone: still scored on hostname with system defaults
	}
	web := func(name, node string) *corev1.Pod {
		return st.MakePod().Name(name).Node(node).Label("app", "web").Label("pod-template-hash", "h").Obj()
	}
	pods := []*corev1.Pod{web("a1", "node-a"), web("a2", "node-a"), web("a3", "node-a"), web("b1", "node-b")}
	snap := newSnapshot(nodes, pods)
	factory := informers.NewSharedInformerFactory(nil, 0)
	h := &informerHandle{fakeHandle: fakeHandle{Snap: snap}, factory: factory}
	p, err := New(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	pl := p.(*PodTopologySpread)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-h", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "h"}}}}
	if err := factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(rs); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}}
	if err := factory.Core().V1().Services().Informer().GetIndexer().Add(svc); err != nil {
		t.Fatal(err)
	}

	pod := ownedBy(st.MakePod().Name("p").Label("app", "web").Label("pod-template-hash", "h").Obj(), "apps/v1", "ReplicaSet", "web-h")
	if _, s := pl.PreFilter(context.Background(), framework.NewCycleState(), pod); !s.IsSkip() {
		t.Fatalf("system defaults are ScheduleAnyway only: PreFilter %v, want Skip", s.Code())
	}
	got, s := score(t, pl, snap, pod, []string{"node-a", "node-b", "node-x"})
	if s != nil {
		t.Fatalf("PreScore: %v %s", s.Code(), s.Message())
	}
	// hostname: weight ln(3+2)=1.609, maxSkew 3 (+2); zone: weight ln(2+2)=1.386 (z1 and "" for node-x), +4.
	// a: 3*1.609+2 + 4*1.386+4 = 16.37 -> 16; b: 1.609+2 + 5.545+4 = 13.15 -> 13; x: 0+2 (no zone label) -> 2.
	// normalized 100*(16+2-s)/16: a 12, b 31, x 100.
	want := map[string]int64{"node-a": 12, "node-b": 31, "node-x": 100}
	for _, ns := range got {
		if ns.Score != want[ns.Name] {
			t.Errorf("%s: %d, want %d", ns.Name, ns.Score, want[ns.Name])
		}
	}

	// A pod selected by nothing gets no default constraints.
	lone := st.MakePod().Name("lone").Label("app", "other").Obj()
	if _, s := score(t, pl, snap, lone, []string{"node-a"}); !s.IsSkip() {
		t.Fatalf("PreScore: %v, want Skip", s.Code())
	}
}

func TestScoreWithoutPreScoreIsError(t *testing.T) {
	snap := newSnapshot(fourNodes(), nil)
	pl := newPlugin(t, nil, snap)
	ni, _ := snap.Get("node-a")
	if _, s := pl.Score(context.Background(), framework.NewCycleState(), st.MakePod().Obj(), ni); s.Code() != framework.Error {
		t.Fatalf("got %v, want Error", s.Code())
	}
}
