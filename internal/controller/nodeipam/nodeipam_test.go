package nodeipam

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

type harness struct {
	t      *testing.T
	client *fake.Clientset
	store  cache.Indexer
	c      *Controller
}

func newHarness(t *testing.T, cluster string, mask int, nodes ...*corev1.Node) *harness {
	objs := make([]runtime.Object, len(nodes))
	store := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for i, n := range nodes {
		objs[i] = n
		_ = store.Add(n)
	}
	client := fake.NewClientset(objs...)
	set, err := NewCIDRSet(netip.MustParsePrefix(cluster), mask)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, client: client, store: store, c: &Controller{client: client, nodes: corelisters.NewNodeLister(store),
		recorder: record.NewFakeRecorder(100), set: set, inFlight: map[string]netip.Prefix{}}}
}

func node(name, cidr string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
}

// podCIDR reads the node from the API (the informer cache is refreshed only when refresh is true).
func (h *harness) podCIDR(name string, refresh bool) string {
	h.t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	if refresh {
		_ = h.store.Update(n)
	}
	if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		h.t.Fatalf("podCIDRs %v disagree with podCIDR %s", n.Spec.PodCIDRs, n.Spec.PodCIDR)
	}
	return n.Spec.PodCIDR
}

func TestAllocatesAroundUsedAndInFlight(t *testing.T) {
	h := newHarness(t, "10.42.0.0/16", 24, node("a", "10.42.0.0/24"), node("b", ""), node("c", ""), node("outside", "192.168.5.0/24"))
	ctx := context.Background()
	for _, n := range []string{"b", "c"} {
		if err := h.c.Sync(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// The cache has not seen b's subnet yet: c must still get another one.
	if b, c := h.podCIDR("b", false), h.podCIDR("c", false); b != "10.42.1.0/24" || c != "10.42.2.0/24" {
		t.Fatalf("b=%s c=%s", b, c)
	}
	if h.podCIDR("a", false) != "10.42.0.0/24" || h.podCIDR("outside", false) != "192.168.5.0/24" {
		t.Fatal("hand-set pod CIDRs changed")
	}
	// Once the cache shows them, nothing is in flight and a sync is a no-op.
	h.podCIDR("b", true)
	h.podCIDR("c", true)
	for _, n := range []string{"a", "b", "c", "outside"} {
		if err := h.c.Sync(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.c.inFlight) != 0 {
		t.Fatalf("in flight: %v", h.c.inFlight)
	}
}

func TestFailedPatchRetriesTheSameSubnet(t *testing.T) {
	h := newHarness(t, "10.42.0.0/16", 24, node("b", ""), node("c", ""))
	fail := true
	h.client.PrependReactor("patch", "nodes", func(clienttesting.Action) (bool, runtime.Object, error) {
		if fail {
			fail = false
			return true, nil, errors.New("etcd hiccup")
		}
		return false, nil, nil
	})
	ctx := context.Background()
	if err := h.c.Sync(ctx, "b"); err == nil {
		t.Fatal("want the patch error")
	}
	if err := h.c.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Sync(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if b, c := h.podCIDR("b", false), h.podCIDR("c", false); b != "10.42.0.0/24" || c != "10.42.1.0/24" {
		t.Fatalf("b=%s c=%s", b, c)
	}
}

func TestFullAndDeletedNodes(t *testing.T) {
	h := newHarness(t, "10.0.0.0/30", 31, node("a", "10.0.0.0/31"), node("b", "10.0.0.2/31"), node("c", ""))
	rec := h.c.recorder.(*record.FakeRecorder)
	if err := h.c.Sync(context.Background(), "c"); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	if ev := <-rec.Events; ev != "Normal CIDRNotAvailable Node c status is now: CIDRNotAvailable" {
		t.Fatalf("event %q", ev)
	}
	// Deleting a frees its subnet for c.
	_ = h.store.Delete(node("a", ""))
	if err := h.c.Sync(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Sync(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	if got := h.podCIDR("c", false); got != "10.0.0.0/31" {
		t.Fatalf("c=%s", got)
	}
}
