package dns

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

// upstream is a tiny resolver on loopback: example.com A 93.184.216.34 (TTL 60), everything else NXDOMAIN.
type upstream struct {
	addr    string
	queries atomic.Int64
}

func startUpstream(t testing.TB) *upstream {
	u := &upstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		u.queries.Add(1)
		m := new(mdns.Msg).SetReply(r)
		if r.Question[0].Name == "example.com." && r.Question[0].Qtype == mdns.TypeA {
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: "example.com.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.ParseIP("93.184.216.34")}}
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return u
}

func ptr[T any](v T) *T { return &v }

func fixtures() []runtime.Object {
	tcp := corev1.ProtocolTCP
	return []runtime.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.20", ClusterIPs: []string{"10.43.0.20", "fd00:43::20"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: tcp}, {Port: 9090, Protocol: tcp}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "db-abc", Namespace: "prod", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("pg"), Port: ptr(int32(5432)), Protocol: &tcp}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.42.0.5"}, Hostname: ptr("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
				{Addresses: []string{"10.42.0.6"}},
				{Addresses: []string{"10.42.0.7"}, Hostname: ptr("db-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
			}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "empty", Namespace: "prod"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "empty-abc", Namespace: "prod", Labels: map[string]string{discoveryv1.LabelServiceName: "empty"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("pg"), Port: ptr(int32(5432)), Protocol: &tcp}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.42.0.8"}, Hostname: ptr("empty-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
			}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "default"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
	}
}

type testServer struct {
	s    *Server
	addr string
	up   *upstream
}

func start(t testing.TB, objs ...runtime.Object) *testServer {
	up := startUpstream(t)
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example\nnameserver "+up.addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := New(factory, Config{ResolvConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.hasSynced...) {
		t.Fatal("no sync")
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ctx) }()
	return &testServer{s: s, addr: s.Addr().String(), up: up}
}

func (ts *testServer) query(t testing.TB, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg).SetQuestion(name, qtype)
	var resp *mdns.Msg
	var err error
	for range 20 { // the listener goroutine may still be starting
		if resp, _, err = (&mdns.Client{Timeout: time.Second}).Exchange(m, ts.addr); err == nil {
			return resp
		}
	}
	t.Fatalf("%s %s: %v", name, mdns.TypeToString[qtype], err)
	return nil
}

func answers(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, v.A.String())
		case *mdns.AAAA:
			out = append(out, v.AAAA.String())
		case *mdns.SRV:
			out = append(out, v.Target+":"+strconv.Itoa(int(v.Port)))
		case *mdns.PTR:
			out = append(out, v.Ptr)
		case *mdns.CNAME:
			out = append(out, "CNAME "+v.Target)
		case *mdns.TXT:
			out = append(out, v.Txt...)
		default:
			out = append(out, rr.String())
		}
	}
	sort.Strings(out)
	return out
}

func expect(t *testing.T, m *mdns.Msg, rcode int, want ...string) {
	t.Helper()
	if m.Rcode != rcode {
		t.Fatalf("rcode %s, want %s: %v", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[rcode], m)
	}
	got := answers(m)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("answers %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("answers %v, want %v", got, want)
		}
	}
	if len(m.Answer) == 0 && m.Authoritative {
		if len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != mdns.TypeSOA {
			t.Fatalf("empty answer without SOA in authority: %v", m)
		}
	}
}

func TestClusterRecords(t *testing.T) {
	ts := start(t, fixtures()...)
	ok, nx := mdns.RcodeSuccess, mdns.RcodeNameError
	expect(t, ts.query(t, "web.default.svc.cluster.local.", mdns.TypeA), ok, "10.43.0.20")
	expect(t, ts.query(t, "WEB.Default.svc.cluster.local.", mdns.TypeAAAA), ok, "fd00:43::20")
	m := ts.query(t, "web.default.svc.cluster.local.", mdns.TypeA)
	if !m.Authoritative || m.Answer[0].Header().Ttl != 5 {
		t.Fatalf("want authoritative, TTL 5: %v", m)
	}
	// SRV for a named port; the additional section has the target's address.
	m = ts.query(t, "_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV)
	expect(t, m, ok, "web.default.svc.cluster.local.:80")
	if len(m.Extra) != 2 {
		t.Fatalf("additional: %v", m.Extra)
	}
	expect(t, ts.query(t, "_http._udp.web.default.svc.cluster.local.", mdns.TypeSRV), nx)
	// Headless: ready endpoints only (a missing condition is ready); hostnames; per-endpoint SRV.
	expect(t, ts.query(t, "db.prod.svc.cluster.local.", mdns.TypeA), ok, "10.42.0.5", "10.42.0.6")
	expect(t, ts.query(t, "db-0.db.prod.svc.cluster.local.", mdns.TypeA), ok, "10.42.0.5")
	expect(t, ts.query(t, "10-42-0-6.db.prod.svc.cluster.local.", mdns.TypeA), ok, "10.42.0.6")
	expect(t, ts.query(t, "db-2.db.prod.svc.cluster.local.", mdns.TypeA), nx)
	expect(t, ts.query(t, "_pg._tcp.db.prod.svc.cluster.local.", mdns.TypeSRV), ok,
		"db-0.db.prod.svc.cluster.local.:5432", "10-42-0-6.db.prod.svc.cluster.local.:5432")
	// A headless Service without ready endpoints does not exist (NXDOMAIN, as the specification says), nor
	// do the names below it; a not-ready endpoint's IP has no PTR.
	expect(t, ts.query(t, "empty.prod.svc.cluster.local.", mdns.TypeA), nx)
	expect(t, ts.query(t, "empty.prod.svc.cluster.local.", mdns.TypeSRV), nx)
	expect(t, ts.query(t, "_pg._tcp.empty.prod.svc.cluster.local.", mdns.TypeSRV), nx)
	expect(t, ts.query(t, "_tcp.empty.prod.svc.cluster.local.", mdns.TypeSRV), nx)
	expect(t, ts.query(t, "empty-0.empty.prod.svc.cluster.local.", mdns.TypeA), nx)
	expect(t, ts.query(t, "8.0.42.10.in-addr.arpa.", mdns.TypePTR), nx) // forwarded: the upstream says NXDOMAIN
	// The _<proto> label under a service is an empty non-terminal when a named port has that protocol.
	expect(t, ts.query(t, "_tcp.web.default.svc.cluster.local.", mdns.TypeSRV), ok)
	expect(t, ts.query(t, "_udp.web.default.svc.cluster.local.", mdns.TypeSRV), nx)
	expect(t, ts.query(t, "_tcp.db.prod.svc.cluster.local.", mdns.TypeSRV), ok)
	// PTR for a ClusterIP and a headless endpoint.
	expect(t, ts.query(t, "20.0.43.10.in-addr.arpa.", mdns.TypePTR), ok, "web.default.svc.cluster.local.")
	expect(t, ts.query(t, "5.0.42.10.in-addr.arpa.", mdns.TypePTR), ok, "db-0.db.prod.svc.cluster.local.")
	rev, _ := mdns.ReverseAddr("fd00:43::20")
	expect(t, ts.query(t, rev, mdns.TypePTR), ok, "web.default.svc.cluster.local.")
	// ExternalName: the CNAME, followed through the upstream.
	expect(t, ts.query(t, "ext.default.svc.cluster.local.", mdns.TypeA), ok, "CNAME example.com.", "93.184.216.34")
	expect(t, ts.query(t, "ext.default.svc.cluster.local.", mdns.TypeCNAME), ok, "CNAME example.com.")
	// Pods.
	expect(t, ts.query(t, "10-42-0-9.default.pod.cluster.local.", mdns.TypeA), ok, "10.42.0.9")
	expect(t, ts.query(t, "10-42-0-9.default.pod.cluster.local.", mdns.TypeAAAA), ok)
	expect(t, ts.query(t, "not-an-ip.default.pod.cluster.local.", mdns.TypeA), nx)
	// NXDOMAIN vs NODATA.
	expect(t, ts.query(t, "nope.default.svc.cluster.local.", mdns.TypeA), nx)
	expect(t, ts.query(t, "web.default.svc.cluster.local.", mdns.TypeTXT), ok)
	expect(t, ts.query(t, "db.prod.svc.cluster.local.", mdns.TypeAAAA), ok)
	expect(t, ts.query(t, "default.svc.cluster.local.", mdns.TypeA), ok)
	expect(t, ts.query(t, "nons.svc.cluster.local.", mdns.TypeA), nx)
	expect(t, ts.query(t, "foo.cluster.local.", mdns.TypeA), nx)
	expect(t, ts.query(t, "dns-version.cluster.local.", mdns.TypeTXT), ok, DNSSchemaVersion)
	m = ts.query(t, "cluster.local.", mdns.TypeSOA)
	if m.Rcode != ok || len(m.Answer) != 1 || m.Answer[0].(*mdns.SOA).Ns != "ns.dns.cluster.local." {
		t.Fatalf("SOA: %v", m)
	}
}

func TestForwardAndCache(t *testing.T) {
	ts := start(t)
	before := ts.up.queries.Load()
	m := ts.query(t, "example.com.", mdns.TypeA)
	expect(t, m, mdns.RcodeSuccess, "93.184.216.34")
	if m.Authoritative {
		t.Fatal("forwarded answer marked authoritative")
	}
	m = ts.query(t, "Example.COM.", mdns.TypeA)
	expect(t, m, mdns.RcodeSuccess, "93.184.216.34")
	if m.Question[0].Name != "Example.COM." {
		t.Fatalf("question not echoed: %v", m.Question)
	}
	if got := ts.up.queries.Load() - before; got != 1 {
		t.Fatalf("upstream saw %d queries, want 1 (second from cache)", got)
	}
	if ts.s.fwd.cache.Hits() != 1 {
		t.Fatalf("cache hits %d", ts.s.fwd.cache.Hits())
	}
	// A PTR that is not the cluster's is forwarded too.
	expect(t, ts.query(t, "1.1.168.192.in-addr.arpa.", mdns.TypePTR), mdns.RcodeNameError)
	// TCP works as UDP.
	r, _, err := (&mdns.Client{Net: "tcp", Timeout: time.Second}).Exchange(new(mdns.Msg).SetQuestion("example.com.", mdns.TypeA), ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, mdns.RcodeSuccess, "93.184.216.34")
}

func TestCacheTTLAndCap(t *testing.T) {
	c := &answerCache{max: 2, entries: map[cacheKey]*cacheEntry{}}
	mk := func(name string, ttl uint32) *mdns.Msg {
		m := new(mdns.Msg).SetQuestion(name, mdns.TypeA)
		m.Response = true
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: net.IPv4(1, 2, 3, 4)}}
		return m
	}
	c.put(cacheKey{name: "a."}, mk("a.", 0)) // TTL 0: not cached
	if len(c.entries) != 0 {
		t.Fatal("TTL 0 cached")
	}
	for _, n := range []string{"a.", "b.", "c."} {
		c.put(cacheKey{name: n}, mk(n, 30))
	}
	if len(c.entries) != 2 {
		t.Fatalf("cache holds %d, cap 2", len(c.entries))
	}
	for k, e := range c.entries {
		e.stored, e.expires = e.stored.Add(-10*time.Second), e.expires.Add(-10*time.Second)
		got := c.get(k, mk(k.name, 0))
		if ttl := got.Answer[0].Header().Ttl; ttl != 20 {
			t.Fatalf("TTL after 10 s: %d", ttl)
		}
		e.expires = time.Now().Add(-time.Second)
		if c.get(k, mk(k.name, 0)) != nil {
			t.Fatal("expired entry served")
		}
	}
}

func TestResolvConf(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	_ = os.WriteFile(conf, []byte("# c\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver 127.0.0.1:5353\nnameserver fe80::1%eth0\noptions ndots:1\n"), 0o644)
	got, err := readResolvConf(conf)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:53", "10.0.0.2:53", "127.0.0.1:5353", "[fe80::1%eth0]:53"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	f := newForwarder(got, 0, time.Second)
	f.avoid(&net.UDPAddr{IP: net.IPv4zero, Port: 53})
	if len(f.servers) != 3 || f.servers[0] != "10.0.0.2:53" || f.servers[1] != "127.0.0.1:5353" {
		t.Fatalf("after dropping ourselves: %v", f.servers)
	}
}

// BenchmarkDNSQueries measures service A lookups over UDP from loopback, 8 concurrent clients.
func BenchmarkDNSQueries(b *testing.B) {
	ts := start(b, fixtures()...)
	ts.query(b, "web.default.svc.cluster.local.", mdns.TypeA)
	b.SetParallelism(4) // 4 x GOMAXPROCS clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := mdns.Dial("udp", ts.addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		m := new(mdns.Msg).SetQuestion("web.default.svc.cluster.local.", mdns.TypeA)
		for pb.Next() {
			if err := conn.WriteMsg(m); err != nil {
				b.Error(err)
				return
			}
			r, err := conn.ReadMsg()
			if err != nil || len(r.Answer) != 1 {
				b.Errorf("%v %v", r, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// TestTTL: every record the server owns carries the configured TTL (5 s by default, as CoreDNS), the SOA
// of negative answers too, whose minimum bounds how long resolvers cache the negative answer.
func TestTTL(t *testing.T) {
	ts := start(t, fixtures()...)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.default.svc.cluster.local.", mdns.TypeA},
		{"_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV},
		{"db.prod.svc.cluster.local.", mdns.TypeA},
		{"_pg._tcp.db.prod.svc.cluster.local.", mdns.TypeSRV},
		{"20.0.43.10.in-addr.arpa.", mdns.TypePTR},
		{"ext.default.svc.cluster.local.", mdns.TypeCNAME},
		{"nope.default.svc.cluster.local.", mdns.TypeA},
		{"web.default.svc.cluster.local.", mdns.TypeTXT},
	} {
		m := ts.query(t, q.name, q.qtype)
		for _, rr := range append(append(append([]mdns.RR{}, m.Answer...), m.Ns...), m.Extra...) {
			if rr.Header().Ttl != 5 {
				t.Errorf("%s %s: TTL %d in %v", q.name, mdns.TypeToString[q.qtype], rr.Header().Ttl, rr)
			}
			if soa, ok := rr.(*mdns.SOA); ok && soa.Minttl != 5 {
				t.Errorf("%s: SOA minimum %d", q.name, soa.Minttl)
			}
		}
	}
}
