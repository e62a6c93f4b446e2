package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestClusterDNS runs `skiff server` with its DNS server on a loopback port and an upstream resolver of the
// test's own, creates Services and an EndpointSlice, and asks the names a pod would ask.
func TestClusterDNS(t *testing.T) {
	// The upstream: answers upstream.example. A 192.0.2.7, NXDOMAIN otherwise.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg).SetReply(r)
		if r.Question[0].Name == "upstream.example." && r.Question[0].Qtype == mdns.TypeA {
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: "upstream.example.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30}, A: net.ParseIP("192.0.2.7")}}
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = up.ActivateAndServe() }()
	defer up.Shutdown()
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+pc.LocalAddr().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", framework.FreePort(t))
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--dns-listen=" + dnsAddr, "--dns-upstream-resolv-conf=" + resolv}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tcp := corev1.ProtocolTCP
	ns := "default"
	svcs := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.7.7",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: tcp}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
			Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: tcp}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "upstream.example"}},
	}
	for _, s := range svcs {
		if _, err := c.Client.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	host, port, ready := "db-0", int32(5432), true
	pname := "pg"
	if _, err := c.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-manual", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &tcp}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.50"}, Hostname: &host, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	ask := func(name string, qtype uint16, wantRcode int, want ...string) {
		t.Helper()
		var last string
		deadline := time.Now().Add(20 * time.Second) // informers see the objects shortly after they are created
		for time.Now().Before(deadline) {
			r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(new(mdns.Msg).SetQuestion(name, qtype), dnsAddr)
			if err == nil {
				var got []string
				for _, rr := range r.Answer {
					switch v := rr.(type) {
					case *mdns.A:
						got = append(got, v.A.String())
					case *mdns.SRV:
						got = append(got, fmt.Sprintf("%s:%d", v.Target, v.Port))
					case *mdns.PTR:
						got = append(got, v.Ptr)
					case *mdns.CNAME:
						got = append(got, "CNAME "+v.Target)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if r.Rcode == wantRcode && slices.Equal(got, want) {
					return
				}
				last = fmt.Sprintf("%s %v", mdns.RcodeToString[r.Rcode], got)
			} else {
				last = err.Error()
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s %s: got %s, want %s %v", name, mdns.TypeToString[qtype], last, mdns.RcodeToString[wantRcode], want)
	}
	ok := mdns.RcodeSuccess
	ask("web.default.svc.cluster.local.", mdns.TypeA, ok, "10.43.7.7")
	ask("_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV, ok, "web.default.svc.cluster.local.:80")
	ask("7.7.43.10.in-addr.arpa.", mdns.TypePTR, ok, "web.default.svc.cluster.local.")
	ask("db.default.svc.cluster.local.", mdns.TypeA, ok, "10.42.0.50")
	ask("db-0.db.default.svc.cluster.local.", mdns.TypeA, ok, "10.42.0.50")
	ask("_pg._tcp.db.default.svc.cluster.local.", mdns.TypeSRV, ok, "db-0.db.default.svc.cluster.local.:5432")
	ask("50.0.42.10.in-addr.arpa.", mdns.TypePTR, ok, "db-0.db.default.svc.cluster.local.")
	ask("ext.default.svc.cluster.local.", mdns.TypeA, ok, "CNAME upstream.example.", "192.0.2.7")
	ask("upstream.example.", mdns.TypeA, ok, "192.0.2.7")
	ask("missing.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError)
	ask("web.default.svc.cluster.local.", mdns.TypeAAAA, ok)

	// A deleted Service goes from the answers.
	if err := c.Client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ask("web.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError)
}
