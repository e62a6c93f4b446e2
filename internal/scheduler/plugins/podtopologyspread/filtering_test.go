package podtopologyspread

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

const zone = "zone"

var (
	dns = corev1.DoNotSchedule
	sa  = corev1.ScheduleAnyway
	foo = map[string]string{"foo": ""}
)

// fourNodes: node-a, node-b in zone1; node-x, node-y in zone2.
func fourNodes() []*corev1.Node {
	return []*corev1.Node{
		st.MakeNode().Name("node-a").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-b").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-x").Label(zone, "zone2").Obj(),
		st.MakeNode().Name("node-y").Label(zone, "zone2").Obj(),
	}
}

func fooPod(name, node string) *corev1.Pod {
	return st.MakePod().Name(name).Node(node).Label("foo", "").Obj()
}

type verdict struct {
	code   framework.Code
	reason string
}

var (
	ok         = verdict{framework.Success, ""}
	skewed     = verdict{framework.Unschedulable, ErrReasonConstraintsNotMatch}
	missingLbl = verdict{framework.UnschedulableAndUnresolvable, ErrReasonNodeLabelNotMatch}
)

func check(t *testing.T, node string, got *framework.Status, want verdict) {
	t.Helper()
	if got.Code() != want.code {
		t.Errorf("node %s: code %v (%q), want %v", node, got.Code(), got.Message(), want.code)
		return
	}
	if want.reason != "" && (len(got.Reasons()) != 1 || got.Reasons()[0] != want.reason) {
		t.Errorf("node %s: reasons %q, want [%q]", node, got.Reasons(), want.reason)
	}
}

func TestFilter(t *testing.T) {
	terminating := fooPod("t1", "node-x")
	now := metav1.NewTime(time.Now())
	terminating.DeletionTimestamp = &now
	tainted := []*corev1.Node{
		st.MakeNode().Name("node-a").Obj(),
		st.MakeNode().Name("node-b").Obj(),
		st.MakeNode().Name("node-c").Taint("dedicated", "x", corev1.TaintEffectNoSchedule).Obj(),
	}
	tests := []struct {
		name    string
		args    runtime.Object
		pod     *corev1.Pod
		nodes   []*corev1.Node
		pods    []*corev1.Pod
		skip    bool
		want    map[string]verdict
		wantErr bool
	}{
		{
			name:  "no constraints: Filter skipped",
			pod:   st.MakePod().Name("p").Label("foo", "").Obj(),
			nodes: fourNodes(),
			skip:  true,
		},
		{
			name:  "only ScheduleAnyway constraints: Filter skipped",
			pod:   withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, zone, sa, foo)),
			nodes: fourNodes(),
			skip:  true,
		},
		{
			name:  "no existing pods: every node fits",
			pod:   st.MakePod().Name("p").Label("foo", "").SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes: fourNodes(),
			want:  map[string]verdict{"node-a": ok, "node-b": ok, "node-x": ok, "node-y": ok},
		},
		{
			name:  "zone skew: 2 in zone1, 1 in zone2",
			pod:   st.MakePod().Name("p").Label("foo", "").SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b"), fooPod("x1", "node-x")},
			want:  map[string]verdict{"node-a": skewed, "node-b": skewed, "node-x": ok, "node-y": ok},
		},
		{
			name:  "maxSkew 2 tolerates the same layout",
			pod:   st.MakePod().Name("p").Label("foo", "").SpreadConstraint(2, zone, dns, foo).Obj(),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b"), fooPod("x1", "node-x")},
			want:  map[string]verdict{"node-a": ok, "node-b": ok, "node-x": ok, "node-y": ok},
		},
		{
			name:  "pod not matching its own selector does not add itself",
			pod:   st.MakePod().Name("p").SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b"), fooPod("x1", "node-x")},
			want:  map[string]verdict{"node-a": ok, "node-b": ok, "node-x": ok, "node-y": ok},
		},
		{
			name: "node without the topology label is unresolvable",
			pod:  st.MakePod().Name("p").Label("foo", "").SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes: append(fourNodes(),
				st.MakeNode().Name("node-nolabel").Obj()),
			want: map[string]verdict{"node-a": ok, "node-x": ok, "node-nolabel": missingLbl},
		},
		{
			name:  "pods of other namespaces and terminating pods are not counted",
			pod:   st.MakePod().Name("p").Label("foo", "").SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes: fourNodes(),
			pods: []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b"),
				st.MakePod().Name("x1").Namespace("other").Node("node-x").Label("foo", "").Obj(),
				terminating},
			want: map[string]verdict{"node-a": skewed, "node-x": ok},
		},
		{
			name:  "pods not matching the selector are not counted",
			pod:   st.MakePod().Name("p").Label("foo", "").SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), st.MakePod().Name("x1").Node("node-x").Label("bar", "").Obj()},
			want:  map[string]verdict{"node-a": skewed, "node-x": ok},
		},
		{
			name: "two constraints: zone and hostname",
			pod: withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(),
				tsc(1, zone, dns, foo), tsc(1, corev1.LabelHostname, dns, foo)),
			nodes: fourNodes(),
			// zone1: 1 (node-a), zone2: 1 (node-x). node-a and node-x would hold 2 while node-b/y hold 0.
			pods: []*corev1.Pod{fooPod("a1", "node-a"), fooPod("x1", "node-x")},
			want: map[string]verdict{"node-a": skewed, "node-b": ok, "node-x": skewed, "node-y": ok},
		},
		{
			name:  "minDomains above the number of domains makes the global minimum 0",
			pod:   withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, zone, dns, foo, minDomains(3))),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("x1", "node-x")},
			want:  map[string]verdict{"node-a": skewed, "node-b": skewed, "node-x": skewed, "node-y": skewed},
		},
		{
			name:  "minDomains reached: usual minimum",
			pod:   withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, zone, dns, foo, minDomains(2))),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("x1", "node-x")},
			want:  map[string]verdict{"node-a": ok, "node-x": ok},
		},
		{
			name: "nodeAffinityPolicy Honor (default): domains outside the pod's node selector do not count",
			pod: st.MakePod().Name("p").Label("foo", "").NodeSelector(map[string]string{zone: "zone1"}).
				SpreadConstraint(1, zone, dns, foo).Obj(),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b")},
			want:  map[string]verdict{"node-a": ok, "node-b": ok},
		},
		{
			name: "nodeAffinityPolicy Ignore: every domain counts",
			pod: withConstraints(st.MakePod().Name("p").Label("foo", "").NodeSelector(map[string]string{zone: "zone1"}).Obj(),
				tsc(1, zone, dns, foo, affinityPolicy(corev1.NodeInclusionPolicyIgnore))),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b")},
			want:  map[string]verdict{"node-a": skewed, "node-b": skewed, "node-x": ok},
		},
		{
			name: "nodeAffinityPolicy Honor with required node affinity",
			pod: withConstraints(st.MakePod().Name("p").Label("foo", "").Affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: zone, Operator: corev1.NodeSelectorOpIn, Values: []string{"zone1"}}}}}}}}).Obj(),
				tsc(1, zone, dns, foo)),
			nodes: fourNodes(),
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b")},
			want:  map[string]verdict{"node-a": ok},
		},
		{
			name:  "nodeTaintsPolicy Ignore (default): the tainted node's domain counts",
			pod:   withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, corev1.LabelHostname, dns, foo)),
			nodes: tainted,
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b")},
			want:  map[string]verdict{"node-a": skewed, "node-b": skewed, "node-c": ok},
		},
		{
			name:  "nodeTaintsPolicy Honor: an untolerated tainted node's domain does not count",
			pod:   withConstraints(st.MakePod().Name("p").Label("foo", "").Obj(), tsc(1, corev1.LabelHostname, dns, foo, taintsPolicy(corev1.NodeInclusionPolicyHonor))),
			nodes: tainted,
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b")},
			want:  map[string]verdict{"node-a": ok, "node-b": ok},
		},
		{
			name: "nodeTaintsPolicy Honor: a tolerated taint keeps the domain",
			pod: withConstraints(st.MakePod().Name("p").Label("foo", "").
				Toleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists}).Obj(),
				tsc(1, corev1.LabelHostname, dns, foo, taintsPolicy(corev1.NodeInclusionPolicyHonor))),
			nodes: tainted,
			pods:  []*corev1.Pod{fooPod("a1", "node-a"), fooPod("b1", "node-b")},
			want:  map[string]verdict{"node-a": skewed, "node-c": ok},
		},
		{
			name: "matchLabelKeys: only pods with the same value count",
			pod: withConstraints(st.MakePod().Name("p").Label("foo", "").Label("rev", "v2").Obj(),
				tsc(1, zone, dns, foo, matchLabelKeys("rev"))),
			nodes: fourNodes(),
			pods: []*corev1.Pod{
				st.MakePod().Name("a1").Node("node-a").Label("foo", "").Label("rev", "v1").Obj(),
				st.MakePod().Name("a2").Node("node-a").Label("foo", "").Label("rev", "v1").Obj(),
				st.MakePod().Name("x1").Node("node-x").Label("foo", "").Label("rev", "v2").Obj(),
			},
			// Counting v2 only: zone1 0, zone2 1.
			want: map[string]verdict{"node-a": ok, "node-x": skewed},
		},
		{
			name: "List defaulting: a ReplicaSet pod without constraints gets the defaults",
			args: &configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting,
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns}}},
			pod:   ownedBy(st.MakePod().Name("p").Label("app", "web").Label("pod-template-hash", "h1").Obj(), "apps/v1", "ReplicaSet", "web-h1"),
			nodes: fourNodes(),
			pods: []*corev1.Pod{
				st.MakePod().Name("a1").Node("node-a").Label("app", "web").Label("pod-template-hash", "h1").Obj(),
				st.MakePod().Name("x1").Node("node-x").Label("app", "web").Label("pod-template-hash", "h0").Obj(),
			},
			want: map[string]verdict{"node-a": skewed, "node-x": ok},
		},
		{
			name: "List defaulting: a StatefulSet pod's per-pod labels are left out of the selector",
			args: &configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting,
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns}}},
			pod: ownedBy(st.MakePod().Name("db-2").Label("app", "db").Label("statefulset.kubernetes.io/pod-name", "db-2").
				Label("apps.kubernetes.io/pod-index", "2").Obj(), "apps/v1", "StatefulSet", "db"),
			nodes: fourNodes(),
			pods: []*corev1.Pod{
				st.MakePod().Name("db-0").Node("node-a").Label("app", "db").Label("statefulset.kubernetes.io/pod-name", "db-0").Obj(),
			},
			want: map[string]verdict{"node-a": skewed, "node-x": ok},
		},
		{
			name: "List defaulting: a pod without a controller gets no default constraints",
			args: &configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting,
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns}}},
			pod:   st.MakePod().Name("p").Label("app", "web").Obj(),
			nodes: fourNodes(),
			skip:  true,
		},
		{
			name: "List defaulting: the pod's own constraints win",
			args: &configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting,
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns}}},
			pod:   ownedBy(withConstraints(st.MakePod().Name("p").Label("app", "web").Obj(), tsc(1, zone, sa, nil)), "apps/v1", "ReplicaSet", "web"),
			nodes: fourNodes(),
			skip:  true,
		},
		{
			name:  "System defaulting without listers: no default constraints",
			pod:   ownedBy(st.MakePod().Name("p").Label("app", "web").Obj(), "apps/v1", "ReplicaSet", "web"),
			nodes: fourNodes(),
			skip:  true,
		},
		{
			name:    "invalid selector: error",
			pod:     withConstraints(st.MakePod().Name("p").Obj(), corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "foo", Operator: "Bad"}}}}),
			nodes:   fourNodes(),
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := newSnapshot(tt.nodes, tt.pods)
			pl := newPlugin(t, tt.args, snap)
			cs := framework.NewCycleState()
			_, s := pl.PreFilter(context.Background(), cs, tt.pod)
			if tt.wantErr {
				if s.Code() != framework.Error {
					t.Fatalf("PreFilter: %v, want Error", s.Code())
				}
				return
			}
			if tt.skip {
				if !s.IsSkip() {
					t.Fatalf("PreFilter: %v (%s), want Skip", s.Code(), s.Message())
				}
				return
			}
			if !s.IsSuccess() {
				t.Fatalf("PreFilter: %v", s.Message())
			}
			for name, want := range tt.want {
				ni, err := snap.Get(name)
				if err != nil {
					t.Fatal(err)
				}
				check(t, name, pl.Filter(context.Background(), cs, tt.pod, ni), want)
			}
		})
	}
}

func TestFilterWithoutPreFilterIsError(t *testing.T) {
	snap := newSnapshot(fourNodes(), nil)
	pl := newPlugin(t, nil, snap)
	ni, _ := snap.Get("node-a")
	if s := pl.Filter(context.Background(), framework.NewCycleState(), st.MakePod().Obj(), ni); s.Code() != framework.Error {
		t.Fatalf("got %v, want Error", s.Code())
	}
}

// TestPreemptionExtensions checks AddPod/RemovePod keep Filter right, and that clones are independent.
func TestPreemptionExtensions(t *testing.T) {
	ctx := context.Background()
	pod := st.MakePod().Name("p").Label("foo", "").SpreadConstraint(1, zone, dns, foo).Obj()
	a1, b1 := fooPod("a1", "node-a"), fooPod("b1", "node-b")
	pods := []*corev1.Pod{a1, b1, fooPod("x1", "node-x")}
	snap := newSnapshot(fourNodes(), pods)
	pl := newPlugin(t, nil, snap)
	cs := framework.NewCycleState()
	if _, s := pl.PreFilter(ctx, cs, pod); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	nodeA, _ := snap.Get("node-a")
	nodeX, _ := snap.Get("node-x")
	check(t, "node-a", pl.Filter(ctx, cs, pod, nodeA), skewed)

	// Removing a1 (zone1: 1, zone2: 1) makes node-a fit; on a clone only.
	sim := cs.Clone()
	if s := pl.RemovePod(ctx, sim, pod, framework.NewPodInfo(a1), nodeA); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	check(t, "node-a", pl.Filter(ctx, sim, pod, nodeA), ok)
	check(t, "node-a (original state)", pl.Filter(ctx, cs, pod, nodeA), skewed)

	// Adding a pod to zone2 (zone1: 1, zone2: 2) makes node-x not fit.
	if s := pl.AddPod(ctx, sim, pod, framework.NewPodInfo(fooPod("x2", "node-x")), nodeX); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	check(t, "node-x", pl.Filter(ctx, sim, pod, nodeX), skewed)
	check(t, "node-a", pl.Filter(ctx, sim, pod, nodeA), ok)

	// Pods of another namespace or not matching change nothing.
	sim2 := cs.Clone()
	_ = pl.RemovePod(ctx, sim2, pod, framework.NewPodInfo(st.MakePod().Name("o").Namespace("other").Label("foo", "").Obj()), nodeA)
	_ = pl.RemovePod(ctx, sim2, pod, framework.NewPodInfo(st.MakePod().Name("q").Obj()), nodeA)
	check(t, "node-a", pl.Filter(ctx, sim2, pod, nodeA), skewed)

	// The minimum moves when the minimal domain grows: zone2 1 -> 3, zone1 min 2.
	sim3 := cs.Clone()
	_ = pl.AddPod(ctx, sim3, pod, framework.NewPodInfo(fooPod("x2", "node-x")), nodeX)
	_ = pl.AddPod(ctx, sim3, pod, framework.NewPodInfo(fooPod("x3", "node-x")), nodeX)
	check(t, "node-a", pl.Filter(ctx, sim3, pod, nodeA), ok)
	check(t, "node-x", pl.Filter(ctx, sim3, pod, nodeX), skewed)

	// AddPod/RemovePod after a skipped PreFilter are no-ops.
	skipped := framework.NewCycleState()
	plain := st.MakePod().Name("plain").Obj()
	if _, s := pl.PreFilter(ctx, skipped, plain); !s.IsSkip() {
		t.Fatalf("want Skip, got %v", s.Code())
	}
	if s := pl.AddPod(ctx, skipped, plain, framework.NewPodInfo(a1), nodeA); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
}

func TestMinPaths(t *testing.T) {
	p := newMinPaths()
	for v, c := range map[string]int{"a": 3, "b": 1, "c": 2} {
		p.set(v, c)
	}
	if p[0] != (domainCount{"b", 1}) || p[1] != (domainCount{"c", 2}) {
		t.Fatalf("got %v", p)
	}
	p.set("b", 5) // b grows past c
	if p[0] != (domainCount{"c", 2}) || p[1] != (domainCount{"b", 5}) {
		t.Fatalf("got %v", p)
	}
	p.set("a", 0) // a new minimum
	if p[0] != (domainCount{"a", 0}) || p[1] != (domainCount{"c", 2}) {
		t.Fatalf("got %v", p)
	}
}

func TestNewArgs(t *testing.T) {
	snap := newSnapshot(nil, nil)
	good := []runtime.Object{nil, &configv1.PodTopologySpreadArgs{},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting, DefaultConstraints: []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns}, {MaxSkew: 2, TopologyKey: zone, WhenUnsatisfiable: sa}}}}
	for _, a := range good {
		if _, err := New(a, &fakeHandle{Snap: snap}); err != nil {
			t.Errorf("%v: %v", a, err)
		}
	}
	bad := []runtime.Object{
		&configv1.NodeAffinityArgs{},
		&configv1.PodTopologySpreadArgs{DefaultingType: "Bogus"},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.SystemDefaulting, DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns}}},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting, DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: zone, WhenUnsatisfiable: dns}}},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting, DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, WhenUnsatisfiable: dns}}},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting, DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: "Never"}}},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting, DefaultConstraints: []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns}, {MaxSkew: 2, TopologyKey: zone, WhenUnsatisfiable: dns}}},
		&configv1.PodTopologySpreadArgs{DefaultingType: configv1.ListDefaulting, DefaultConstraints: []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: zone, WhenUnsatisfiable: dns, LabelSelector: &metav1.LabelSelector{}}}},
	}
	for _, a := range bad {
		if _, err := New(a, &fakeHandle{Snap: snap}); err == nil {
			t.Errorf("%#v: want an error", a)
		}
	}
	if _, err := New(nil, &fakeHandle{}); err == nil {
		t.Error("a nil snapshot lister: want an error")
	}
}

func TestEventsToRegister(t *testing.T) {
	pl := newPlugin(t, nil, newSnapshot(nil, nil))
	evs := pl.EventsToRegister()
	var pod, node framework.ActionType
	for _, e := range evs {
		switch e.Resource {
		case framework.EventPod:
			pod |= e.ActionType
		case framework.EventNode:
			node |= e.ActionType
		}
	}
	if pod&(framework.Add|framework.Delete|framework.UpdatePodLabel) != framework.Add|framework.Delete|framework.UpdatePodLabel {
		t.Errorf("pod events %b", pod)
	}
	if node&(framework.Add|framework.Delete|framework.UpdateNodeLabel|framework.UpdateNodeTaint) != framework.Add|framework.Delete|framework.UpdateNodeLabel|framework.UpdateNodeTaint {
		t.Errorf("node events %b", node)
	}
}
