package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"skiff/internal/apiserver/registry"
)

func TestDecide(t *testing.T) {
	a, b, c := ownerRef("ConfigMap", "a", "a", false), ownerRef("ConfigMap", "b", "b", true), ownerRef("ConfigMap", "c", "c", false)
	refs := func(r ...metav1.OwnerReference) []metav1.OwnerReference { return r }
	for _, tc := range []struct {
		name                     string
		solid, dangling, waiting []metav1.OwnerReference
		hasDependents, cycle     bool
		finalizers               []string
		want                     action
	}{
		{name: "all owners there", solid: refs(a, b), want: action{}},
		{name: "one owner gone", solid: refs(a), dangling: refs(b), want: action{removeRefs: []types.UID{"b"}}},
		{name: "one owner gone, one waiting", solid: refs(a), dangling: refs(b), waiting: refs(c),
			want: action{removeRefs: []types.UID{"b", "c"}}},
		{name: "all gone", dangling: refs(a, b), want: action{delete: true, policy: metav1.DeletePropagationBackground}},
		{name: "all gone, orphan finalizer", dangling: refs(a), finalizers: []string{metav1.FinalizerOrphanDependents},
			want: action{delete: true, policy: metav1.DeletePropagationOrphan}},
		{name: "all gone, foreground finalizer", dangling: refs(a), finalizers: []string{metav1.FinalizerDeleteDependents},
			want: action{delete: true, policy: metav1.DeletePropagationForeground}},
		{name: "owner waiting, no dependents", waiting: refs(a), want: action{delete: true, policy: metav1.DeletePropagationBackground}},
		{name: "owner waiting, dependents", waiting: refs(a), dangling: refs(b), hasDependents: true,
			want: action{delete: true, policy: metav1.DeletePropagationForeground}},
		{name: "owner waiting, dependent waiting too", waiting: refs(a), hasDependents: true, cycle: true,
			want: action{delete: true, unblock: true, policy: metav1.DeletePropagationForeground}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.solid, tc.dangling, tc.waiting, tc.hasDependents, tc.cycle, tc.finalizers)
			if !slices.Equal(got.removeRefs, tc.want.removeRefs) || got.delete != tc.want.delete ||
				got.unblock != tc.want.unblock || got.policy != tc.want.policy {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// fixture is a collector over a fake metadata client, its graph fed by hand.
type fixture struct {
	t      *testing.T
	client *metadatafake.FakeMetadataClient
	c      *Collector
	events *record.FakeRecorder
}

func newFixture(t *testing.T, objs ...*metav1.PartialObjectMetadata) *fixture {
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var ros []runtime.Object
	for _, o := range objs {
		ros = append(ros, o)
	}
	client := metadatafake.NewSimpleMetadataClient(scheme, ros...)
	events := record.NewFakeRecorder(10)
	f := &fixture{t: t, client: client, c: newCollector(client, registry.All, events), events: events}
	for _, o := range objs {
		res, err := f.c.res.forRef(o.APIVersion, o.Kind)
		if err != nil {
			t.Fatal(err)
		}
		f.c.enqueue(f.c.graph.observe(res, &o.ObjectMeta))
	}
	t.Cleanup(f.c.queue.ShutDown)
	return f
}

func partial(kind string, m *metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	r := ownerRef(kind, "", "", false)
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: r.APIVersion, Kind: kind}, ObjectMeta: *m}
}

// process works one UID and returns the writes it made.
func (f *fixture) process(uid types.UID) ([]clienttesting.Action, error) {
	f.client.ClearActions()
	err := f.c.process(context.Background(), uid)
	var writes []clienttesting.Action
	for _, a := range f.client.Actions() {
		if a.GetVerb() != "get" {
			writes = append(writes, a)
		}
	}
	return writes, err
}

// queued drains the queue.
func (f *fixture) queued() []types.UID {
	var out []types.UID
	for f.c.queue.Len() > 0 {
		u, _ := f.c.queue.Get()
		f.c.queue.Done(u)
		out = append(out, u)
	}
	return out
}

func wantDelete(t *testing.T, a clienttesting.Action, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	d, ok := a.(clienttesting.DeleteAction)
	if !ok || d.GetName() != name {
		t.Fatalf("want delete of %s, got %#v", name, a)
	}
	opts := d.GetDeleteOptions()
	if opts.PropagationPolicy == nil || *opts.PropagationPolicy != policy || opts.Preconditions == nil || opts.Preconditions.UID == nil {
		t.Fatalf("delete of %s: options %+v, want policy %s with a UID precondition", name, opts, policy)
	}
}

// wantPatch checks a merge patch of one metadata field and returns the field's new value.
func wantPatch(t *testing.T, a clienttesting.Action, name, field string) json.RawMessage {
	t.Helper()
	p, ok := a.(clienttesting.PatchAction)
	if !ok || p.GetName() != name || p.GetPatchType() != types.MergePatchType {
		t.Fatalf("want merge patch of %s, got %#v", name, a)
	}
	var body struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if err := json.Unmarshal(p.GetPatch(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Metadata["uid"] == nil || body.Metadata["resourceVersion"] == nil {
		t.Fatalf("patch %s has no preconditions", p.GetPatch())
	}
	v, ok := body.Metadata[field]
	if !ok {
		t.Fatalf("patch %s does not set %s", p.GetPatch(), field)
	}
	return v
}

func TestBackgroundDanglingOwner(t *testing.T) {
	f := newFixture(t, partial("ConfigMap", objMeta("ns", "dep", "d", ownerRef("ConfigMap", "gone", "g", false))))
	if got := f.queued(); !slices.Equal(got, []types.UID{"g"}) {
		t.Fatalf("queued %v", got)
	}
	// The virtual owner is looked up: absent, so the dependent is enqueued.
	if writes, err := f.process("g"); err != nil || len(writes) != 0 {
		t.Fatalf("virtual owner: %v %v", writes, err)
	}
	if got := f.queued(); !slices.Equal(got, []types.UID{"d"}) {
		t.Fatalf("queued %v", got)
	}
	writes, err := f.process("d")
	if err != nil || len(writes) != 1 {
		t.Fatalf("dependent: %v %v", writes, err)
	}
	wantDelete(t, writes[0], "dep", metav1.DeletePropagationBackground)
}

func TestReplacedOwnerIsAbsent(t *testing.T) {
	// The owner's name now belongs to another object (another UID): the reference dangles.
	f := newFixture(t,
		partial("ConfigMap", objMeta("ns", "owner", "new")),
		partial("Secret", objMeta("ns", "dep", "d", ownerRef("ConfigMap", "owner", "old", false))))
	writes, err := f.process("d")
	if err != nil || len(writes) != 1 {
		t.Fatalf("%v %v", writes, err)
	}
	wantDelete(t, writes[0], "dep", metav1.DeletePropagationBackground)
}

func TestTwoOwnersOneGone(t *testing.T) {
	f := newFixture(t,
		partial("ConfigMap", objMeta("ns", "alive", "a")),
		partial("PriorityClass", objMeta("", "prio", "p")),
		partial("Secret", objMeta("ns", "dep", "d", ownerRef("ConfigMap", "alive", "a", false), ownerRef("ConfigMap", "gone", "g", false),
			ownerRef("PriorityClass", "prio", "p", false))))
	writes, err := f.process("d")
	if err != nil || len(writes) != 1 {
		t.Fatalf("%v %v", writes, err)
	}
	var refs []metav1.OwnerReference
	if err := json.Unmarshal(wantPatch(t, writes[0], "dep", "ownerReferences"), &refs); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].UID != "a" || refs[1].UID != "p" {
		t.Fatalf("references left: %+v", refs)
	}
	// All owners there: nothing to do.
	if writes, err := f.process("d"); err != nil || len(writes) != 0 {
		t.Fatalf("second pass: %v %v", writes, err)
	}
}

func TestOrphan(t *testing.T) {
	owner := deleting(objMeta("ns", "owner", "o"), metav1.FinalizerOrphanDependents)
	f := newFixture(t,
		partial("ConfigMap", owner),
		partial("ConfigMap", objMeta("ns", "dep1", "d1", ownerRef("ConfigMap", "owner", "o", true))),
		partial("Secret", objMeta("ns", "dep2", "d2", ownerRef("ConfigMap", "owner", "o", false), ownerRef("ConfigMap", "other", "x", false))))
	writes, err := f.process("o")
	if err != nil || len(writes) != 3 {
		t.Fatalf("%v %v", writes, err)
	}
	slices.SortFunc(writes[:2], func(a, b clienttesting.Action) int {
		return strings.Compare(a.(clienttesting.PatchAction).GetName(), b.(clienttesting.PatchAction).GetName())
	})
	if v := wantPatch(t, writes[0], "dep1", "ownerReferences"); string(v) != "null" {
		t.Fatalf("dep1 references: %s", v)
	}
	var refs []metav1.OwnerReference
	if err := json.Unmarshal(wantPatch(t, writes[1], "dep2", "ownerReferences"), &refs); err != nil || len(refs) != 1 || refs[0].UID != "x" {
		t.Fatalf("dep2 references: %+v %v", refs, err)
	}
	if v := wantPatch(t, writes[2], "owner", "finalizers"); string(v) != "null" {
		t.Fatalf("owner finalizers: %s", v)
	}
}

func TestForeground(t *testing.T) {
	owner := deleting(objMeta("ns", "owner", "o"), metav1.FinalizerDeleteDependents)
	f := newFixture(t,
		partial("ConfigMap", owner),
		partial("ConfigMap", objMeta("ns", "blocking", "b", ownerRef("ConfigMap", "owner", "o", true))),
		partial("Secret", objMeta("ns", "free", "f", ownerRef("ConfigMap", "owner", "o", false))),
		partial("ConfigMap", objMeta("ns", "grandchild", "g", ownerRef("ConfigMap", "blocking", "b", true))))
	f.queued()
	// A blocking dependent is there: the owner keeps its finalizer; its dependents are enqueued.
	writes, err := f.process("o")
	if err != nil || len(writes) != 0 {
		t.Fatalf("owner: %v %v", writes, err)
	}
	got := f.queued()
	slices.Sort(got)
	if !slices.Equal(got, []types.UID{"b", "f"}) {
		t.Fatalf("queued %v", got)
	}
	// The blocking dependent owns something: deleted in the foreground; the other in the background.
	writes, err = f.process("b")
	if err != nil || len(writes) != 1 {
		t.Fatalf("blocking: %v %v", writes, err)
	}
	wantDelete(t, writes[0], "blocking", metav1.DeletePropagationForeground)
	writes, err = f.process("f")
	if err != nil || len(writes) != 1 {
		t.Fatalf("free: %v %v", writes, err)
	}
	wantDelete(t, writes[0], "free", metav1.DeletePropagationBackground)
	// Once the blocking dependent is gone the owner loses its finalizer.
	wantQueued(t, f.c.graph.forget("b"), "o", "g")
	writes, err = f.process("o")
	if err != nil || len(writes) != 1 {
		t.Fatalf("owner: %v %v", writes, err)
	}
	if v := wantPatch(t, writes[0], "owner", "finalizers"); string(v) != "null" {
		t.Fatalf("owner finalizers: %s", v)
	}
}

func TestForegroundOwnerKeepsOtherFinalizers(t *testing.T) {
	owner := deleting(objMeta("", "prio", "p"), "example.com/hold", metav1.FinalizerDeleteDependents)
	f := newFixture(t, partial("PriorityClass", owner))
	writes, err := f.process("p")
	if err != nil || len(writes) != 1 {
		t.Fatalf("%v %v", writes, err)
	}
	if v := wantPatch(t, writes[0], "prio", "finalizers"); string(v) != `["example.com/hold"]` {
		t.Fatalf("finalizers: %s", v)
	}
}

func TestClusterScopedDependentOfNamespacedOwner(t *testing.T) {
	f := newFixture(t, partial("PriorityClass", objMeta("", "prio", "p", ownerRef("ConfigMap", "owner", "o", false))))
	writes, err := f.process("p")
	if !errors.Is(err, errNoRetry) || len(writes) != 0 {
		t.Fatalf("%v %v", writes, err)
	}
	select {
	case e := <-f.events.Events:
		mustContainStr(t, e, "OwnerRefInvalidNamespace")
	default:
		t.Fatal("no event")
	}
}

func TestOwnerInOtherNamespace(t *testing.T) {
	f := newFixture(t,
		partial("ConfigMap", objMeta("ns1", "owner", "o")),
		partial("ConfigMap", objMeta("ns2", "dep", "d", ownerRef("ConfigMap", "owner", "o", false))))
	writes, err := f.process("d")
	if err != nil || len(writes) != 1 {
		t.Fatalf("%v %v", writes, err)
	}
	wantDelete(t, writes[0], "dep", metav1.DeletePropagationBackground)
	select {
	case e := <-f.events.Events:
		mustContainStr(t, e, "OwnerRefInvalidNamespace")
	default:
		t.Fatal("no event")
	}
}

func TestUnknownOwnerKindIsRetried(t *testing.T) {
	f := newFixture(t, partial("ConfigMap", objMeta("ns", "dep", "d", metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "w"})))
	writes, err := f.process("d")
	if err == nil || errors.Is(err, errNoRetry) || len(writes) != 0 {
		t.Fatalf("%v %v", writes, err)
	}
}

func mustContainStr(t *testing.T, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Fatalf("%q does not contain %q", s, want)
	}
}
