package storage

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testStore starts an embedded etcd in a temp dir and returns a configmap store over it.
func testStore(t *testing.T) (*Store, *clientv3.Client) {
	t.Helper()
	cu := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	e, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), ClientURL: cu, PeerURL: "http://127.0.0.1:" + strconv.Itoa(freePort(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cli, err := NewClient(context.Background(), ClientConfig{Endpoints: []string{cu}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return NewStore(cli, NewCodec(scheme.Scheme), Resource{
		GroupResource: schema.GroupResource{Resource: "configmaps"}, Prefix: "/registry/configmaps/",
		StorageGVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), NewFunc: func() runtime.Object { return &corev1.ConfigMap{} },
	}), cli
}

func cm(ns, name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
}

func create(t *testing.T, s *Store, obj *corev1.ConfigMap) *corev1.ConfigMap {
	t.Helper()
	out, err := s.Create(context.Background(), s.Key(obj.Namespace, obj.Name), obj.Name, obj)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.ConfigMap)
}

func setLabels(t *testing.T, s *Store, ns, name string, labels map[string]string) {
	t.Helper()
	_, _, err := s.GuaranteedUpdate(context.Background(), s.Key(ns, name), name, func(cur runtime.Object) (runtime.Object, bool, error) {
		c := cur.(*corev1.ConfigMap)
		c.Labels = labels
		return c, false, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return watch.Event{}
}

func expect(t *testing.T, w watch.Interface, typ watch.EventType, name string) {
	t.Helper()
	ev := next(t, w)
	c, ok := ev.Object.(*corev1.ConfigMap)
	if ev.Type != typ || !ok || c.Name != name {
		t.Fatalf("got %s %v, want %s %s", ev.Type, ev.Object, typ, name)
	}
}

func TestStoreCreateUpdateDelete(t *testing.T) {
	s, _ := testStore(t)
	ctx := context.Background()
	a := create(t, s, cm("ns", "a", nil))
	if _, err := s.Create(ctx, s.Key("ns", "a"), "a", cm("ns", "a", nil)); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v", err)
	}
	// Concurrent updates never lose a write, even when they all start from the same stale cached copy.
	stale := a
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := s.GuaranteedUpdate(ctx, s.Key("ns", "a"), "a", func(cur runtime.Object) (runtime.Object, bool, error) {
				c := cur.(*corev1.ConfigMap)
				if c.Data == nil {
					c.Data = map[string]string{}
				}
				c.Data[fmt.Sprint(i)] = "x"
				return c, false, nil
			}, stale)
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	got, err := s.Get(ctx, s.Key("ns", "a"), "a")
	if err != nil || len(got.(*corev1.ConfigMap).Data) != 10 {
		t.Fatalf("after concurrent updates: %v %v", err, got)
	}
	// An update that changes nothing writes nothing.
	same, _, err := s.GuaranteedUpdate(ctx, s.Key("ns", "a"), "a", func(cur runtime.Object) (runtime.Object, bool, error) { return cur, false, nil }, got)
	if err != nil || same.(*corev1.ConfigMap).ResourceVersion != got.(*corev1.ConfigMap).ResourceVersion {
		t.Fatalf("no-op update wrote: %v", err)
	}
	deleted, gone, err := s.GuaranteedUpdate(ctx, s.Key("ns", "a"), "a", func(cur runtime.Object) (runtime.Object, bool, error) { return nil, true, nil }, nil)
	if err != nil || !gone || deleted.(*corev1.ConfigMap).UID != a.UID {
		t.Fatalf("delete: %v %v", err, gone)
	}
	if _, err := s.Get(ctx, s.Key("ns", "a"), "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestListPage(t *testing.T) {
	s, _ := testStore(t)
	for i := 0; i < 7; i++ {
		create(t, s, cm("ns", fmt.Sprintf("c%d", i), map[string]string{"odd": strconv.FormatBool(i%2 == 1)}))
	}
	create(t, s, cm("other", "x", nil))
	var names []string
	start, rev := "", int64(0)
	for pages := 0; ; pages++ {
		page, err := s.ListPage(context.Background(), s.Key("ns", ""), rev, start, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Items {
			names = append(names, o.(*corev1.ConfigMap).Name)
		}
		if page.Continue == "" {
			break
		}
		if page.Remaining == nil || *page.Remaining != int64(7-len(names)) {
			t.Fatalf("remaining %v after %d", page.Remaining, len(names))
		}
		if rev, start, err = DecodeContinue(page.Continue); err != nil {
			t.Fatal(err)
		}
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if fmt.Sprint(names) != "[c0 c1 c2 c3 c4 c5 c6]" {
		t.Fatalf("paged names %v", names)
	}
	odd := func(o runtime.Object) bool { return o.(*corev1.ConfigMap).Labels["odd"] == "true" }
	page, err := s.ListPage(context.Background(), s.Key("ns", ""), 0, "", 2, odd)
	if err != nil || len(page.Items) != 2 || page.Continue == "" {
		t.Fatalf("filtered page: %v %d %q", err, len(page.Items), page.Continue)
	}
	if _, _, err := DecodeContinue("garbage"); err == nil {
		t.Fatal("bad continue token accepted")
	}
}

func TestCacherListAndWatch(t *testing.T) {
	s, _ := testStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	create(t, s, cm("ns", "before", map[string]string{"app": "x"}))
	c := NewCacher(s, CacherConfig{HistorySize: 3})
	go c.Run(ctx)

	// A consistent list sees a write made just before it.
	create(t, s, cm("ns", "fresh", nil))
	items, rv, err := c.List(ctx, s.Key("ns", ""), nil, 0, true)
	if err != nil || len(items) != 2 || rv == 0 {
		t.Fatalf("consistent list: %v %d", err, len(items))
	}

	sel := func(o runtime.Object) bool { return o.(*corev1.ConfigMap).Labels["app"] == "x" }
	w, err := c.Watch(ctx, WatchOptions{KeyPrefix: s.Key("ns", ""), Pred: sel, SendInitial: true, Consistent: true, Bookmarks: true, InitialEventsEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expect(t, w, watch.Added, "before")
	if ev := next(t, w); ev.Type != watch.Bookmark {
		t.Fatalf("want the initial-events-end bookmark, got %s", ev.Type)
	}
	// Objects entering and leaving the selection look like adds and deletes to this watcher.
	setLabels(t, s, "ns", "fresh", map[string]string{"app": "x"})
	expect(t, w, watch.Added, "fresh")
	setLabels(t, s, "ns", "fresh", map[string]string{"app": "y"})
	expect(t, w, watch.Deleted, "fresh")
	create(t, s, cm("other", "elsewhere", map[string]string{"app": "x"}))
	create(t, s, cm("ns", "last", map[string]string{"app": "x"}))
	expect(t, w, watch.Added, "last")

	// Resuming inside the kept history replays; before it, etcd's history serves the watch.
	w2, err := c.Watch(ctx, WatchOptions{RV: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	expect(t, w2, watch.Modified, "fresh")
	expect(t, w2, watch.Modified, "fresh")
	expect(t, w2, watch.Added, "elsewhere")
	expect(t, w2, watch.Added, "last")
}

func TestCacherCompactedHistory(t *testing.T) {
	s, cli := testStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := create(t, s, cm("ns", "a", nil))
	for i := 0; i < 5; i++ {
		create(t, s, cm("ns", fmt.Sprintf("b%d", i), nil))
	}
	c := NewCacher(s, CacherConfig{HistorySize: 2})
	go c.Run(ctx)
	resp, _ := cli.Get(ctx, "x")
	if _, err := cli.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	rv, _ := strconv.ParseInt(first.ResourceVersion, 10, 64)
	w, err := c.Watch(ctx, WatchOptions{RV: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := next(t, w)
	st, ok := ev.Object.(*metav1.Status)
	if ev.Type != watch.Error || !ok || st.Code != 410 {
		t.Fatalf("got %s %v, want ERROR 410", ev.Type, ev.Object)
	}
}

func TestCodecKeepsTypeAndReadsJSON(t *testing.T) {
	c := NewCodec(scheme.Scheme)
	gvk := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	data, err := c.Encode(cm("ns", "a", map[string]string{"k": "v"}), gvk)
	if err != nil {
		t.Fatal(err)
	}
	newCM := func() runtime.Object { return &corev1.ConfigMap{} }
	obj, err := c.Decode(data, 7, newCM)
	if err != nil || obj.GetObjectKind().GroupVersionKind() != gvk || obj.(*corev1.ConfigMap).ResourceVersion != "7" || obj.(*corev1.ConfigMap).Labels["k"] != "v" {
		t.Fatalf("protobuf round trip: %v %+v", err, obj)
	}
	obj, err = c.Decode([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}`), 8, newCM)
	if err != nil || obj.(*corev1.ConfigMap).Name != "j" || obj.GetObjectKind().GroupVersionKind() != gvk {
		t.Fatalf("JSON value: %v %+v", err, obj)
	}
}
