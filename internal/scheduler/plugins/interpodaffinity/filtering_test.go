package interpodaffinity

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

const zone = "zone"

var (
	hostname = corev1.LabelHostname
	s1       = map[string]string{"security": "S1"}
	web      = map[string]string{"app": "web"}
)

func nodes() []*corev1.Node {
	return []*corev1.Node{
		st.MakeNode().Name("node-a").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-b").Label(zone, "zone1").Obj(),
		st.MakeNode().Name("node-x").Label(zone, "zone2").Obj(),
		st.MakeNode().Name("node-y").Label(zone, "zone2").Obj(),
		st.MakeNode().Name("node-nozone").Obj(),
	}
}

type verdict struct {
	code   framework.Code
	reason string
}

var (
	ok           = verdict{framework.Success, ""}
	affinityFail = verdict{framework.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch}
	antiFail     = verdict{framework.Unschedulable, ErrReasonAntiAffinityRulesNotMatch}
	existingFail = verdict{framework.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch}
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

// nsHandle also offers a namespace lister.
type nsHandle struct {
	fakeHandle
	lister corelisters.NamespaceLister
}

func (h *nsHandle) NamespaceLister() corelisters.NamespaceLister { return h.lister }

func namespaceLister(nss ...*corev1.Namespace) corelisters.NamespaceLister {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range nss {
		_ = idx.Add(n)
	}
	return corelisters.NewNamespaceLister(idx)
}

func namespace(name string, lbls map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
}

func TestFilter(t *testing.T) {
	s1Pod := func(name, node string) *corev1.Pod {
		return st.MakePod().Name(name).Node(node).Label("security", "S1").Obj()
	}
	webPod := func(name, node string) *corev1.Pod {
		return st.MakePod().Name(name).Node(node).Label("app", "web").Obj()
	}
	lister := namespaceLister(namespace("default", nil), namespace("team-a", map[string]string{"team": "a"}), namespace("team-b", map[string]string{"team": "b"}))
	tests := []struct {
		name      string
		pod       *corev1.Pod
		pods      []*corev1.Pod
		nsLister  corelisters.NamespaceLister
		skip      bool
		preFilter framework.Code
		want      map[string]verdict
	}{
		{
			name: "no terms and no existing anti-affinity: Skip",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			skip: true,
		},
		{
			name: "existing anti-affinity not matching the pod: Skip",
			pod:  st.MakePod().Name("p").Label("app", "db").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, web)}}.obj()).Obj()},
			skip: true,
		},
		{
			name: "required affinity by zone",
			pod:  st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			want: map[string]verdict{"node-a": ok, "node-b": ok, "node-x": affinityFail, "node-y": affinityFail, "node-nozone": affinityFail},
		},
		{
			name: "required affinity by hostname",
			pod:  st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{term(hostname, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			want: map[string]verdict{"node-a": ok, "node-b": affinityFail, "node-x": affinityFail},
		},
		{
			name: "first pod of a self-affine group may go to any node with the topology key",
			pod:  st.MakePod().Name("p").Label("security", "S1").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{webPod("e1", "node-a")},
			want: map[string]verdict{"node-a": ok, "node-x": ok, "node-nozone": affinityFail},
		},
		{
			name: "no self-affinity exception once a matching pod exists",
			pod:  st.MakePod().Name("p").Label("security", "S1").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-x")},
			want: map[string]verdict{"node-a": affinityFail, "node-x": ok},
		},
		{
			name: "no exception when the pod does not match its own terms",
			pod:  st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj(),
			want: map[string]verdict{"node-a": affinityFail, "node-x": affinityFail},
		},
		{
			name: "affinity terms must all be matched by one pod",
			pod:  st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1), term(zone, web)}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a"), webPod("e2", "node-b"),
				st.MakePod().Name("e3").Node("node-x").Label("security", "S1").Label("app", "web").Obj()},
			want: map[string]verdict{"node-a": affinityFail, "node-x": ok, "node-y": ok},
		},
		{
			name: "affinity ignores pods of other namespaces by default",
			pod:  st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Label("security", "S1").Obj()},
			want: map[string]verdict{"node-a": affinityFail},
		},
		{
			name: "affinity term naming the namespace",
			pod:  st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1, inNamespaces("team-a"))}}.obj()).Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Label("security", "S1").Obj()},
			want: map[string]verdict{"node-a": ok, "node-x": affinityFail},
		},
		{
			name: "empty namespaceSelector: all namespaces",
			pod:  st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1, nsSelector(&metav1.LabelSelector{}))}}.obj()).Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Label("security", "S1").Obj()},
			want: map[string]verdict{"node-a": ok, "node-x": affinityFail},
		},
		{
			name: "namespaceSelector without a namespace lister selects nothing",
			pod: st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{
				term(zone, s1, nsSelector(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}))}}.obj()).Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Label("security", "S1").Obj()},
			want: map[string]verdict{"node-a": affinityFail},
		},
		{
			name: "namespaceSelector with a namespace lister",
			pod: st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{
				term(zone, s1, nsSelector(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}))}}.obj()).Obj(),
			pods: []*corev1.Pod{
				st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Label("security", "S1").Obj(),
				st.MakePod().Name("e2").Namespace("team-b").Node("node-x").Label("security", "S1").Obj(),
			},
			nsLister: lister,
			want:     map[string]verdict{"node-a": ok, "node-x": affinityFail},
		},
		{
			name: "mismatchLabelKeys: pods sharing the value are excluded",
			pod: st.MakePod().Name("p").Label("tenant", "t1").Affinity(aff{req: []corev1.PodAffinityTerm{
				term(zone, web, mismatchKeys("tenant"))}}.obj()).Obj(),
			pods: []*corev1.Pod{
				st.MakePod().Name("e1").Node("node-a").Label("app", "web").Label("tenant", "t1").Obj(),
				st.MakePod().Name("e2").Node("node-x").Label("app", "web").Label("tenant", "t2").Obj(),
			},
			want: map[string]verdict{"node-a": affinityFail, "node-x": ok},
		},
		{
			name: "required anti-affinity by zone",
			pod:  st.MakePod().Name("p").Affinity(aff{anti: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			want: map[string]verdict{"node-a": antiFail, "node-b": antiFail, "node-x": ok, "node-nozone": ok},
		},
		{
			name: "required anti-affinity by hostname",
			pod:  st.MakePod().Name("p").Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a")},
			want: map[string]verdict{"node-a": antiFail, "node-b": ok},
		},
		{
			name: "anti-affinity ignores pods of other namespaces",
			pod:  st.MakePod().Name("p").Affinity(aff{anti: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Label("security", "S1").Obj()},
			want: map[string]verdict{"node-a": ok},
		},
		{
			name: "matchLabelKeys: only pods with the same value repel",
			pod: st.MakePod().Name("p").Label("app", "web").Label("rev", "v2").Affinity(aff{anti: []corev1.PodAffinityTerm{
				term(hostname, web, matchKeys("rev"))}}.obj()).Obj(),
			pods: []*corev1.Pod{
				st.MakePod().Name("e1").Node("node-a").Label("app", "web").Label("rev", "v1").Obj(),
				st.MakePod().Name("e2").Node("node-x").Label("app", "web").Label("rev", "v2").Obj(),
			},
			want: map[string]verdict{"node-a": ok, "node-x": antiFail},
		},
		{
			name: "existing pod's anti-affinity by hostname",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, web)}}.obj()).Obj()},
			want: map[string]verdict{"node-a": existingFail, "node-b": ok, "node-x": ok},
		},
		{
			name: "existing pod's anti-affinity by zone",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Node("node-a").Affinity(aff{anti: []corev1.PodAffinityTerm{term(zone, web)}}.obj()).Obj()},
			want: map[string]verdict{"node-a": existingFail, "node-b": existingFail, "node-x": ok, "node-nozone": ok},
		},
		{
			name: "existing pod's anti-affinity covers its own namespace only",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, web)}}.obj()).Obj()},
			skip: true,
		},
		{
			name: "existing pod's anti-affinity naming the pod's namespace",
			pod:  st.MakePod().Name("p").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").
				Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, web, inNamespaces("default"))}}.obj()).Obj()},
			want: map[string]verdict{"node-a": existingFail, "node-b": ok},
		},
		{
			name: "existing pod's anti-affinity with an empty namespaceSelector",
			pod:  st.MakePod().Name("p").Namespace("team-b").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").
				Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, web, nsSelector(&metav1.LabelSelector{}))}}.obj()).Obj()},
			want: map[string]verdict{"node-a": existingFail, "node-b": ok},
		},
		{
			name: "existing pod's anti-affinity namespaceSelector matched against the pod's namespace labels",
			pod:  st.MakePod().Name("p").Namespace("team-b").Label("app", "web").Obj(),
			pods: []*corev1.Pod{st.MakePod().Name("e1").Namespace("team-a").Node("node-a").
				Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, web, nsSelector(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}))}}.obj()).Obj()},
			nsLister: lister,
			want:     map[string]verdict{"node-a": existingFail, "node-b": ok},
		},
		{
			name: "affinity is checked before anti-affinity",
			pod: st.MakePod().Name("p").Label("app", "web").
				Affinity(aff{req: []corev1.PodAffinityTerm{term(hostname, s1)}, anti: []corev1.PodAffinityTerm{term(zone, web)}}.obj()).Obj(),
			pods: []*corev1.Pod{s1Pod("e1", "node-a"), webPod("e2", "node-b"),
				st.MakePod().Name("e3").Node("node-x").Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, web)}}.obj()).Obj()},
			want: map[string]verdict{"node-a": antiFail, "node-b": affinityFail, "node-x": affinityFail},
		},
		{
			name:      "an invalid selector makes the pod unschedulable",
			pod:       st.MakePod().Name("p").Affinity(aff{req: []corev1.PodAffinityTerm{{TopologyKey: zone, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bad"}}}}}}.obj()).Obj(),
			preFilter: framework.UnschedulableAndUnresolvable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := newSnapshot(nodes(), tt.pods)
			var h framework.Handle = &fakeHandle{Snap: snap}
			if tt.nsLister != nil {
				h = &nsHandle{fakeHandle: fakeHandle{Snap: snap}, lister: tt.nsLister}
			}
			pl := newPlugin(t, nil, h)
			cs := framework.NewCycleState()
			_, s := pl.PreFilter(context.Background(), cs, tt.pod)
			if tt.skip {
				if !s.IsSkip() {
					t.Fatalf("PreFilter: %v, want Skip", s.Code())
				}
				return
			}
			if s.Code() != tt.preFilter {
				t.Fatalf("PreFilter: %v (%s), want %v", s.Code(), s.Message(), tt.preFilter)
			}
			if !s.IsSuccess() {
				return
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

func TestPreemptionExtensions(t *testing.T) {
	ctx := context.Background()
	snapWith := func(pods ...*corev1.Pod) *framework.Snapshot { return newSnapshot(nodes(), pods) }
	get := func(snap *framework.Snapshot, n string) *framework.NodeInfo { ni, _ := snap.Get(n); return ni }

	// Incoming anti-affinity: removing the repelling pod makes node-a fit, on the clone only.
	s1Pod := st.MakePod().Name("e1").Node("node-a").Label("security", "S1").Obj()
	pod := st.MakePod().Name("p").Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, s1)}}.obj()).Obj()
	snap := snapWith(s1Pod)
	pl := newPlugin(t, nil, &fakeHandle{Snap: snap})
	cs := framework.NewCycleState()
	if _, s := pl.PreFilter(ctx, cs, pod); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	a := get(snap, "node-a")
	check(t, "node-a", pl.Filter(ctx, cs, pod, a), antiFail)
	sim := cs.Clone()
	if s := pl.RemovePod(ctx, sim, pod, framework.NewPodInfo(s1Pod), a); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	check(t, "node-a", pl.Filter(ctx, sim, pod, a), ok)
	check(t, "node-a (original)", pl.Filter(ctx, cs, pod, a), antiFail)
	_ = pl.AddPod(ctx, sim, pod, framework.NewPodInfo(s1Pod), a)
	check(t, "node-a", pl.Filter(ctx, sim, pod, a), antiFail)

	// Existing pods' anti-affinity.
	repel := st.MakePod().Name("e2").Node("node-b").Affinity(aff{anti: []corev1.PodAffinityTerm{term(zone, web)}}.obj()).Obj()
	webPod := st.MakePod().Name("p2").Label("app", "web").Obj()
	snap = snapWith(repel)
	pl = newPlugin(t, nil, &fakeHandle{Snap: snap})
	cs = framework.NewCycleState()
	if _, s := pl.PreFilter(ctx, cs, webPod); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	a, b := get(snap, "node-a"), get(snap, "node-b")
	check(t, "node-a", pl.Filter(ctx, cs, webPod, a), existingFail)
	sim = cs.Clone()
	_ = pl.RemovePod(ctx, sim, webPod, framework.NewPodInfo(repel), b)
	check(t, "node-a", pl.Filter(ctx, sim, webPod, a), ok)
	_ = pl.AddPod(ctx, sim, webPod, framework.NewPodInfo(repel), b)
	check(t, "node-a", pl.Filter(ctx, sim, webPod, a), existingFail)

	// Adding a pod whose anti-affinity repels the incoming pod when none did before.
	antiPod := st.MakePod().Name("p4").Label("app", "web").Affinity(aff{anti: []corev1.PodAffinityTerm{term(hostname, s1)}}.obj()).Obj()
	snap = snapWith()
	pl = newPlugin(t, nil, &fakeHandle{Snap: snap})
	cs = framework.NewCycleState()
	if _, s := pl.PreFilter(ctx, cs, antiPod); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	a, b = get(snap, "node-a"), get(snap, "node-b")
	sim = cs.Clone()
	_ = pl.AddPod(ctx, sim, antiPod, framework.NewPodInfo(repel), b)
	check(t, "node-a", pl.Filter(ctx, sim, antiPod, a), existingFail)
	check(t, "node-a (original)", pl.Filter(ctx, cs, antiPod, a), ok)

	// Required affinity: adding a matching pod on node-x satisfies zone2.
	affPod := st.MakePod().Name("p3").Affinity(aff{req: []corev1.PodAffinityTerm{term(zone, s1)}}.obj()).Obj()
	snap = snapWith(st.MakePod().Name("e3").Node("node-a").Label("security", "S1").Obj())
	pl = newPlugin(t, nil, &fakeHandle{Snap: snap})
	cs = framework.NewCycleState()
	if _, s := pl.PreFilter(ctx, cs, affPod); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
	x := get(snap, "node-x")
	check(t, "node-x", pl.Filter(ctx, cs, affPod, x), affinityFail)
	sim = cs.Clone()
	_ = pl.AddPod(ctx, sim, affPod, framework.NewPodInfo(st.MakePod().Name("e4").Label("security", "S1").Obj()), x)
	check(t, "node-x", pl.Filter(ctx, sim, affPod, x), ok)

	// After a skipped PreFilter the extensions are no-ops.
	skipped := framework.NewCycleState()
	plain := st.MakePod().Name("plain").Obj()
	if _, s := pl.PreFilter(ctx, skipped, plain); !s.IsSkip() {
		t.Fatalf("want Skip, got %v", s.Code())
	}
	if s := pl.AddPod(ctx, skipped, plain, framework.NewPodInfo(repel), x); !s.IsSuccess() {
		t.Fatal(s.Message())
	}
}

func TestTermCache(t *testing.T) {
	c := newTermCache(false)
	p := st.MakePod().Name("e").Affinity(aff{anti: []corev1.PodAffinityTerm{term(zone, web)}}.obj()).Obj()
	first := c.get(p)
	if len(first.requiredAnti) != 1 || c.get(p) != first {
		t.Fatal("want the cached entry")
	}
	// A new object for the same pod is parsed again.
	p2 := p.DeepCopy()
	p2.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey = hostname
	if got := c.get(p2); got.requiredAnti[0].topologyKey != hostname {
		t.Fatal("stale entry")
	}
	// Entries survive one rotation (promoted on use) and are dropped after two unused.
	for range cacheRotateEvery {
		c.cycle()
	}
	if c.get(p2).pod != p2 || len(c.cur) != 1 {
		t.Fatalf("entry not promoted: %d", len(c.cur))
	}
	for range 2 * cacheRotateEvery {
		c.cycle()
	}
	if len(c.cur)+len(c.old) != 0 {
		t.Fatalf("unused entries kept: %d %d", len(c.cur), len(c.old))
	}
	// Invalid terms parse as none.
	bad := st.MakePod().Name("bad").Affinity(aff{anti: []corev1.PodAffinityTerm{{TopologyKey: zone, LabelSelector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bad"}}}}}}.obj()).Obj()
	if got := c.get(bad); len(got.requiredAnti) != 0 {
		t.Fatal("want no terms")
	}
}

func TestTermMatches(t *testing.T) {
	owner := st.MakePod().Name("o").Namespace("team-a").Obj()
	tm, err := newTerm(owner, &corev1.PodAffinityTerm{TopologyKey: zone, LabelSelector: &metav1.LabelSelector{MatchLabels: web},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	p := st.MakePod().Name("p").Namespace("team-b").Label("app", "web").Obj()
	if !tm.matches(p, labels.Set{"team": "b"}) || tm.matches(p, labels.Set{"team": "c"}) {
		t.Fatal("namespaceSelector not applied")
	}
	// A nil labelSelector matches nothing.
	tm, _ = newTerm(owner, &corev1.PodAffinityTerm{TopologyKey: zone}, true)
	if tm.matches(st.MakePod().Namespace("team-a").Obj(), nil) {
		t.Fatal("nil selector matched")
	}
}

func TestNewArgs(t *testing.T) {
	h := &fakeHandle{Snap: newSnapshot(nil, nil)}
	w0, w5, w101 := int32(0), int32(5), int32(101)
	for _, a := range []runtime.Object{nil, &configv1.InterPodAffinityArgs{}, &configv1.InterPodAffinityArgs{HardPodAffinityWeight: &w0}, &configv1.InterPodAffinityArgs{HardPodAffinityWeight: &w5}} {
		if _, err := New(a, h); err != nil {
			t.Errorf("%v: %v", a, err)
		}
	}
	if pl := newPlugin(t, nil, h); pl.hardPodAffinityWeight != 1 {
		t.Errorf("default hardPodAffinityWeight %d", pl.hardPodAffinityWeight)
	}
	for _, a := range []runtime.Object{&configv1.InterPodAffinityArgs{HardPodAffinityWeight: &w101}, &configv1.PodTopologySpreadArgs{}} {
		if _, err := New(a, h); err == nil {
			t.Errorf("%#v: want an error", a)
		}
	}
	if _, err := New(nil, &fakeHandle{}); err == nil {
		t.Error("nil snapshot lister: want an error")
	}
}

func TestEventsToRegister(t *testing.T) {
	pl := newPlugin(t, nil, &fakeHandle{Snap: newSnapshot(nil, nil)})
	var pod, node framework.ActionType
	for _, e := range pl.EventsToRegister() {
		switch e.Resource {
		case framework.EventPod:
			pod |= e.ActionType
		case framework.EventNode:
			node |= e.ActionType
		}
	}
	if want := framework.Add | framework.Delete | framework.UpdatePodLabel; pod&want != want {
		t.Errorf("pod events %b", pod)
	}
	if want := framework.Add | framework.UpdateNodeLabel | framework.UpdateNodeTaint; node&want != want {
		t.Errorf("node events %b", node)
	}
}
