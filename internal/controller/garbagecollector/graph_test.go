package garbagecollector

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/apiserver/registry"
)

func resource(t *testing.T, resource string) *registry.Resource {
	t.Helper()
	for _, r := range registry.All {
		if r.Resource == resource {
			return r
		}
	}
	t.Fatalf("no resource %s", resource)
	return nil
}

func ownerRef(kind, name string, uid types.UID, block bool) metav1.OwnerReference {
	apiVersion := "v1"
	switch kind {
	case "PriorityClass":
		apiVersion = "scheduling.k8s.io/v1"
	case "ReplicaSet":
		apiVersion = "apps/v1"
	}
	r := metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid}
	if block {
		r.BlockOwnerDeletion = new(true)
	}
	return r
}

func objMeta(ns, name string, uid types.UID, owners ...metav1.OwnerReference) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid, OwnerReferences: owners}
}

func deleting(m *metav1.ObjectMeta, finalizers ...string) *metav1.ObjectMeta {
	now := metav1.Now()
	m.DeletionTimestamp = &now
	m.Finalizers = finalizers
	return m
}

func wantQueued(t *testing.T, got []types.UID, want ...types.UID) {
	t.Helper()
	slices.Sort(got)
	got = slices.Compact(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("enqueued %v, want %v", got, want)
	}
}

func TestGraphVirtualOwner(t *testing.T) {
	g := newGraph()
	cm := resource(t, "configmaps")
	// The dependent shows up first: its owner is a virtual node, to be verified.
	wantQueued(t, g.observe(cm, objMeta("ns", "dep", "d1", ownerRef("ConfigMap", "owner", "o1", false))), "o1")
	if v, ok := g.view("o1"); !ok || v.observed || len(v.dependents) != 1 || v.dependents[0].ref.uid != "d1" {
		t.Fatalf("virtual owner: %+v %v", v, ok)
	}
	// The owner turns up: nothing to do.
	wantQueued(t, g.observe(cm, objMeta("ns", "owner", "o1")))
	if v, _ := g.view("o1"); !v.observed {
		t.Fatal("owner not observed")
	}
	// The owner goes: its dependent is checked; the owner stays virtual while the dependent refers to it.
	wantQueued(t, g.forget("o1"), "d1")
	if v, ok := g.view("o1"); !ok || v.observed {
		t.Fatalf("deleted owner with dependents should be virtual: %+v %v", v, ok)
	}
	// The dependent goes too: nothing is left.
	wantQueued(t, g.forget("d1"))
	if len(g.nodes) != 0 {
		t.Fatalf("graph not empty: %v", g.nodes)
	}
}

func TestGraphOwnerRefChanges(t *testing.T) {
	g := newGraph()
	cm := resource(t, "configmaps")
	g.observe(cm, objMeta("ns", "a", "a"))
	g.observe(cm, objMeta("ns", "b", "b"))
	wantQueued(t, g.observe(cm, objMeta("ns", "dep", "d", ownerRef("ConfigMap", "a", "a", true), ownerRef("ConfigMap", "b", "b", false))))
	// a goes into foreground deletion: it is enqueued itself.
	wantQueued(t, g.observe(cm, deleting(objMeta("ns", "a", "a"), metav1.FinalizerDeleteDependents)), "a")
	// The dependent stops blocking a: a is enqueued (it may be free to go).
	wantQueued(t, g.observe(cm, objMeta("ns", "dep", "d", ownerRef("ConfigMap", "a", "a", false), ownerRef("ConfigMap", "b", "b", false))), "a")
	// The dependent drops b (not being deleted): nothing; b loses its dependent.
	wantQueued(t, g.observe(cm, objMeta("ns", "dep", "d", ownerRef("ConfigMap", "a", "a", false))))
	if v, _ := g.view("b"); len(v.dependents) != 0 {
		t.Fatalf("b still has dependents %+v", v.dependents)
	}
	// A new dependent of an owner in foreground deletion is enqueued to be deleted.
	wantQueued(t, g.observe(cm, objMeta("ns", "dep2", "d2", ownerRef("ConfigMap", "a", "a", false))), "d2")
	// The dependent is deleted: a, waiting for its dependents, is enqueued.
	wantQueued(t, g.forget("d"), "a")
	// An orphaning owner is enqueued too.
	wantQueued(t, g.observe(cm, deleting(objMeta("ns", "b", "b"), metav1.FinalizerOrphanDependents)), "b")
	// Being deleted without propagation finalizers: nothing to do.
	wantQueued(t, g.observe(cm, deleting(objMeta("ns", "c", "c"), "example.com/hold")))
}

func TestGraphSuspectReferences(t *testing.T) {
	g := newGraph()
	cm, pc := resource(t, "configmaps"), resource(t, "priorityclasses")
	g.observe(cm, objMeta("ns1", "owner", "o"))
	g.observe(pc, objMeta("", "prio", "p"))
	// A namespaced owner in another namespace: the dependent is checked.
	wantQueued(t, g.observe(cm, objMeta("ns2", "dep", "d", ownerRef("ConfigMap", "owner", "o", false))), "d")
	if !g.observedElsewhere("o", "ns2") || g.observedElsewhere("o", "ns1") {
		t.Fatal("observedElsewhere")
	}
	// The right UID under another kind or name: checked.
	wantQueued(t, g.observe(cm, objMeta("ns1", "dep2", "d2", ownerRef("Secret", "owner", "o", false))), "d2")
	wantQueued(t, g.observe(cm, objMeta("ns1", "dep3", "d3", ownerRef("ConfigMap", "other", "o", false))), "d3")
	// A cluster-scoped owner from any namespace is fine.
	wantQueued(t, g.observe(cm, objMeta("ns2", "dep4", "d4", ownerRef("PriorityClass", "prio", "p", false))))
	// A virtual owner turning up as something else than its dependents said: they are checked.
	g.observe(cm, objMeta("ns1", "dep5", "d5", ownerRef("ConfigMap", "late", "l", false)))
	wantQueued(t, g.observe(cm, objMeta("ns1", "other-name", "l")), "d5")
}

func TestGraphUIDReuseOfName(t *testing.T) {
	g := newGraph()
	cm := resource(t, "configmaps")
	g.observe(cm, objMeta("ns", "owner", "o1"))
	g.observe(cm, objMeta("ns", "dep", "d", ownerRef("ConfigMap", "owner", "o1", false)))
	// The informer sees the owner replaced (same name, new UID) as an update; the handler forgets the old UID.
	wantQueued(t, g.forget("o1"), "d")
	wantQueued(t, g.observe(cm, objMeta("ns", "owner", "o2")))
	if v, _ := g.view("o1"); v.observed {
		t.Fatal("old owner should be virtual")
	}
}

func TestResources(t *testing.T) {
	r := newResources(registry.All)
	for _, w := range r.watched {
		if w.Resource == "events" || w.Resource == "bindings" {
			t.Fatalf("%s watched", w.GroupVersionResource)
		}
		if w.Resource == "horizontalpodautoscalers" && w.Version != "v2" {
			t.Fatalf("HPAs watched through %s", w.GroupVersionResource)
		}
	}
	for _, c := range []struct{ apiVersion, kind, want string }{
		{"v1", "ConfigMap", "configmaps"},
		{"apps/v1", "ReplicaSet", "replicasets"},
		{"autoscaling/v1", "HorizontalPodAutoscaler", "autoscaling/v1, Resource=horizontalpodautoscalers"},
		{"apps/v1beta2", "Deployment", "apps/v1, Resource=deployments"},
	} {
		res, err := r.forRef(c.apiVersion, c.kind)
		if err != nil {
			t.Fatal(err)
		}
		if res.Resource != c.want && res.GroupVersionResource.String() != c.want {
			t.Fatalf("%s %s: %s, want %s", c.apiVersion, c.kind, res.GroupVersionResource, c.want)
		}
	}
	if _, err := r.forRef("example.com/v1", "Widget"); err == nil {
		t.Fatal("unknown kind mapped")
	}
}

func TestAbsentCache(t *testing.T) {
	c := newAbsentCache(2)
	a, b, d := absentKey{uid: "a"}, absentKey{uid: "b"}, absentKey{uid: "d"}
	c.add(a)
	c.add(b)
	c.has(a) // a is now the most recent
	c.add(d)
	if !c.has(a) || c.has(b) || !c.has(d) {
		t.Fatal("least recently used entry should have gone")
	}
}
