package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// benchServices makes n TCP Services with eps endpoints each (every tenth with a NodePort).
func benchServices(n, eps int) []Service {
	out := make([]Service, n)
	for i := range out {
		s := Service{Name: fmt.Sprintf("bench/svc-%d:http", i), ClusterIP: netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)}),
			Protocol: corev1.ProtocolTCP, Port: 80}
		if i%10 == 0 {
			s.NodePort = int32(30000 + i/10)
		}
		for e := range eps {
			k := i*eps + e
			s.Endpoints = append(s.Endpoints, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 42, byte(k >> 8), byte(k)}), 8080))
		}
		sortAddrPorts(s.Endpoints)
		out[i] = s
	}
	return out
}

// BenchmarkSync measures rule syncs of 5,000 Services x 10 endpoints into a throwaway table: render
// (Compute + script) and `nft -f` apply, for a full sync into an empty table, a full sync over the
// populated table (the periodic resync, with its listing), and an incremental sync of one changed
// endpoint (Build from API objects is not included). Needs root and nft.
func BenchmarkSync(b *testing.B) {
	needNFT(b)
	ctx := context.Background()
	table := testTable() + "-bench"
	b.Cleanup(func() { _ = DeleteTable(ctx, table) })
	svcs := benchServices(5000, 10)
	apply := func(script string) {
		if err := NFT(ctx, script); err != nil {
			b.Fatal(err)
		}
	}
	report := func(b *testing.B, render time.Duration, script string) {
		b.ReportMetric(float64(render.Milliseconds())/float64(b.N), "render-ms/op")
		b.ReportMetric(float64(len(script))/1e6, "script-MB")
	}

	b.Run("FullEmptyTable", func(b *testing.B) {
		var render time.Duration
		var script string
		for range b.N {
			b.StopTimer()
			_ = DeleteTable(ctx, table)
			b.StartTimer()
			start := time.Now()
			script = FullScript(table, Compute(testCIDR, svcs), Existing{})
			render += time.Since(start)
			apply(script)
		}
		report(b, render, script)
	})
	b.Run("FullOverTable", func(b *testing.B) {
		var render time.Duration
		var script string
		for range b.N {
			ex, err := ListTable(ctx, table)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			script = FullScript(table, Compute(testCIDR, svcs), ex)
			render += time.Since(start)
			apply(script)
		}
		report(b, render, script)
	})
	b.Run("IncrementalOneEndpoint", func(b *testing.B) {
		comp := NewComputer(testCIDR) // as the proxy: unchanged Services' shares are reused
		applied := comp.Compute(svcs)
		ex, err := ListTable(ctx, table)
		if err != nil {
			b.Fatal(err)
		}
		apply(FullScript(table, applied, ex)) // the table as applied says, whatever ran before
		b.ResetTimer()
		var render time.Duration
		var script string
		for i := range b.N {
			next := append([]Service(nil), svcs...)
			s := &next[i%len(next)]
			s.Endpoints = append(append([]netip.AddrPort(nil), s.Endpoints[1:]...),
				netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 44, byte(i >> 8), byte(i)}), 8080))
			start := time.Now()
			rs := comp.Compute(next)
			script = DiffScript(table, applied, rs)
			render += time.Since(start)
			apply(script)
			applied = rs
		}
		report(b, render, script)
	})
}

// BenchmarkEndpointChangeLatency drives a Proxy (default settings, real nft, a throwaway table) from a
// fake clientset holding 1,000 Services x 10 endpoints, and measures from an EndpointSlice update to the
// end of the `nft -f` that put the new endpoint in the table, one change at a time against an idle
// proxy. Reports p50 and p99 (the fake clientset stands for the API server: its watch latency is not in
// these numbers). Needs root and nft.
func BenchmarkEndpointChangeLatency(b *testing.B) {
	needNFT(b)
	const nSvc, nEp = 1000, 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	table := testTable() + "-latency"
	b.Cleanup(func() { _ = DeleteTable(context.Background(), table) })

	client := fake.NewClientset()
	slices := make([]*discoveryv1.EndpointSlice, nSvc)
	for i := range nSvc {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i)},
			Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.43.%d.%d", i>>8, i&255), Type: corev1.ServiceTypeClusterIP,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}
		es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: s.Name,
			Labels: map[string]string{discoveryv1.LabelServiceName: s.Name}}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}}}
		for e := range nEp {
			k := i*nEp + e
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.42.%d.%d", k>>8, k&255)}})
		}
		if _, err := client.CoreV1().Services("bench").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		var err error
		if slices[i], err = client.DiscoveryV1().EndpointSlices("bench").Create(ctx, es, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}

	var mu sync.Mutex
	var want string             // the endpoint whose arrival ends a measurement
	var applies []time.Duration // nft apply time of the incremental syncs
	live := make(chan struct{}, 1)
	p := New(client, Config{Table: table, PodCIDR: testCIDR.PodCIDR, List: ListTable,
		Flush: func(context.Context, []Flush) error { return nil },
		Synced: func(full bool, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if !full {
				applies = append(applies, took)
			}
		},
		Apply: func(ctx context.Context, script string) error {
			err := NFT(ctx, script)
			mu.Lock()
			if err == nil && want != "" && strings.Contains(script, "dnat to "+want) {
				want = ""
				live <- struct{}{}
			}
			mu.Unlock()
			return err
		}})
	go p.Run(ctx)
	// The first sync (full, 1,000 x 10) ends with the last Service in the table.
	mu.Lock()
	want = fmt.Sprintf("10.42.%d.%d:8080", (nSvc*nEp-1)>>8, (nSvc*nEp-1)&255)
	mu.Unlock()
	select {
	case <-live:
	case <-time.After(2 * time.Minute):
		b.Fatal("no first sync")
	}

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		es := slices[i%nSvc].DeepCopy()
		ep := fmt.Sprintf("10.44.%d.%d", (i>>8)&255, i&255)
		es.Endpoints[0].Addresses = []string{ep}
		mu.Lock()
		want = ep + ":8080"
		mu.Unlock()
		start := time.Now()
		upd, err := client.DiscoveryV1().EndpointSlices("bench").Update(ctx, es, metav1.UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		select {
		case <-live:
		case <-time.After(time.Minute):
			b.Fatalf("endpoint %s never applied", ep)
		}
		lat = append(lat, time.Since(start))
		slices[i%nSvc] = upd
		b.StopTimer()
		time.Sleep(200 * time.Millisecond) // let the proxy go idle (past MinSyncInterval)
		b.StartTimer()
	}
	b.StopTimer()
	pct := func(d []time.Duration, q float64) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	mu.Lock()
	defer mu.Unlock()
	if len(applies) > 0 {
		b.ReportMetric(pct(applies, 0.5), "nft-apply-p50-ms")
	}
}
