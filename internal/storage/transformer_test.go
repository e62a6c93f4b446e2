package storage

import (
	"bytes"
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// xorTransformer "encrypts" by XOR with a one-byte key named in the prefix; keys lists what it reads, the first
// writes.
type xorTransformer struct{ keys []byte }

func (x *xorTransformer) prefix(k byte) []byte { return []byte("k8s:enc:xor:v1:" + string(k) + ":") }

func (x *xorTransformer) ToStorage(plain []byte, _ string) ([]byte, error) {
	out := append([]byte(nil), x.prefix(x.keys[0])...)
	for _, b := range plain {
		out = append(out, b^x.keys[0])
	}
	return out, nil
}

func (x *xorTransformer) FromStorage(stored []byte, _ string) ([]byte, bool, error) {
	for i, k := range x.keys {
		if p := x.prefix(k); bytes.HasPrefix(stored, p) {
			var out []byte
			for _, b := range stored[len(p):] {
				out = append(out, b^k)
			}
			return out, i != 0, nil
		}
	}
	return nil, false, errors.New("no key")
}

// TestTransformerOnEveryPath: values are transformed on write, and every read path (GET, LIST, the watch cache)
// sees plaintext; rewriting an unchanged object whose value is stale re-encrypts it, from etcd or from the cache.
func TestTransformerOnEveryPath(t *testing.T) {
	s, cli := testStore(t)
	tr := &xorTransformer{keys: []byte{'a'}}
	s.res.Transformer = tr
	ctx := context.Background()
	obj := cm("default", "c", nil)
	obj.Data = map[string]string{"password": "hunter2"}
	create(t, s, obj)
	raw := func() []byte {
		resp, err := cli.Get(ctx, s.Key("default", "c"))
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("etcd get: %v", err)
		}
		return resp.Kvs[0].Value
	}
	if v := raw(); !bytes.HasPrefix(v, []byte("k8s:enc:xor:v1:a:")) || bytes.Contains(v, []byte("hunter2")) {
		t.Fatalf("stored %q", v)
	}
	got, err := s.Get(ctx, s.Key("default", "c"), "c")
	if err != nil || got.(*corev1.ConfigMap).Data["password"] != "hunter2" {
		t.Fatalf("get: %v %v", got, err)
	}
	page, err := s.ListPage(ctx, s.res.Prefix, 0, "", 0, nil)
	if err != nil || len(page.Items) != 1 || page.Items[0].(*corev1.ConfigMap).Data["password"] != "hunter2" {
		t.Fatalf("list: %v %v", page, err)
	}
	c := NewCacher(s, CacherConfig{})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go c.Run(cctx)
	<-c.Ready()
	w, err := c.Watch(ctx, WatchOptions{KeyPrefix: s.res.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := next(t, w); ev.Object.(*corev1.ConfigMap).Data["password"] != "hunter2" {
		t.Fatalf("watch: %v", ev.Object)
	}

	same := func(cur runtime.Object) (runtime.Object, bool, error) { return cur, false, nil }
	// Unchanged and fresh: no write.
	rev := func() int64 { resp, _ := cli.Get(ctx, s.Key("default", "c")); return resp.Kvs[0].ModRevision }
	before := rev()
	if _, _, err := s.GuaranteedUpdate(ctx, s.Key("default", "c"), "c", same, nil); err != nil || rev() != before {
		t.Fatalf("a no-op update wrote: %v", err)
	}
	// A new key first: the unchanged object is rewritten with it, starting from etcd...
	tr.keys = []byte{'b', 'a'}
	if _, _, err := s.GuaranteedUpdate(ctx, s.Key("default", "c"), "c", same, nil); err != nil {
		t.Fatal(err)
	}
	if v := raw(); !bytes.HasPrefix(v, []byte("k8s:enc:xor:v1:b:")) {
		t.Fatalf("not re-encrypted: %q", v)
	}
	ev := next(t, w)
	// ...and starting from the watch cache's copy, which does not know how it is stored.
	tr.keys = []byte{'c', 'b'}
	if _, _, err := s.GuaranteedUpdate(ctx, s.Key("default", "c"), "c", same, ev.Object); err != nil {
		t.Fatal(err)
	}
	if v := raw(); !bytes.HasPrefix(v, []byte("k8s:enc:xor:v1:c:")) {
		t.Fatalf("not re-encrypted from the cache: %q", v)
	}
	// A key no longer configured: reads fail instead of returning ciphertext.
	tr.keys = []byte{'z'}
	if _, err := s.Get(ctx, s.Key("default", "c"), "c"); err == nil {
		t.Fatal("read a value of a removed key")
	}
}
