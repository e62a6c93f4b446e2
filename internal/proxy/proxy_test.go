package proxy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestProxySyncs runs the sync loop on a fake clientset: the first sync rebuilds from the API (a full
// sync), a new EndpointSlice reaches the table in an incremental one, and a burst of changes is applied
// in few transactions.
func TestProxySyncs(t *testing.T) {
	web := svc("web", "10.43.0.5", corev1.ServiceTypeClusterIP, corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP})
	client := fake.NewSimpleClientset(web)
	var mu sync.Mutex
	var scripts []string
	p := New(client, Config{MinSyncInterval: 50 * time.Millisecond, List: noTable, Flush: func(context.Context, []Flush) error { return nil }, Apply: func(_ context.Context, s string) error {
		mu.Lock()
		defer mu.Unlock()
		scripts = append(scripts, s)
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	waitFor := func(what string, ok func(last string, n int) bool) int {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(scripts)
			last := ""
			if n > 0 {
				last = scripts[n-1]
			}
			mu.Unlock()
			if ok(last, n) {
				return n
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
		return 0
	}
	waitFor("no-endpoint rule", func(s string, _ int) bool { return strings.Contains(s, "10.43.0.5 . tcp . 80 : goto reject-chain") })

	before := waitFor("", func(string, int) bool { return true })
	for i := range 20 {
		es := slice("http", corev1.ProtocolTCP, 8080, map[string]epState{"10.42.0." + string(rune('2'+i%5)): {true, true, false}})
		es.ObjectMeta = metav1.ObjectMeta{Namespace: "default", Name: "web-" + string(rune('a'+i)), Labels: map[string]string{discoveryv1.LabelServiceName: "web"}}
		if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	after := waitFor("5 endpoints", func(s string, _ int) bool { return strings.Contains(s, "numgen random mod 5") })
	if after-before > 10 {
		t.Errorf("20 changes took %d transactions", after-before)
	}
	// The first sync is a full one; the others write only the changes.
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(scripts[0], "flush map") {
		t.Errorf("first sync not a full one:\n%s", scripts[0])
	}
	for i, s := range scripts[1:] {
		if strings.Contains(s, "flush map") || strings.Contains(s, "chain nat-prerouting") {
			t.Errorf("sync %d rewrote the table:\n%s", i+1, s)
		}
	}
}

func noTable(context.Context, string) (Existing, error) { return Existing{}, nil }
