package proxy

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func svc(name, ip string, typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Type: typ, Ports: ports}}
}

type epState struct{ ready, serving, terminating bool }

func slice(port string, proto corev1.Protocol, num int32, eps map[string]epState) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(port), Protocol: ptr.To(proto), Port: ptr.To(num)}}}
	for ip, st := range eps {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(st.ready), Serving: ptr.To(st.serving), Terminating: ptr.To(st.terminating)}})
	}
	return es
}

func TestBuildEndpointChoice(t *testing.T) {
	web := svc("web", "10.43.0.5", corev1.ServiceTypeNodePort,
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080},
		corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})
	for _, tc := range []struct {
		name string
		eps  map[string]epState
		want []string
	}{
		{"ready only", map[string]epState{"10.42.0.2": {true, true, false}, "10.42.0.3": {false, false, false}}, []string{"10.42.0.2:8080"}},
		{"terminating serving used when none ready", map[string]epState{"10.42.0.2": {false, true, true}, "10.42.0.3": {false, false, true}, "10.42.0.4": {false, false, false}}, []string{"10.42.0.2:8080"}},
		{"terminating ignored when one is ready", map[string]epState{"10.42.0.2": {false, true, true}, "10.42.0.9": {true, true, false}}, []string{"10.42.0.9:8080"}},
		{"none", map[string]epState{"10.42.0.3": {false, false, false}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Build("n1", []*corev1.Service{web}, map[string][]*discoveryv1.EndpointSlice{"default/web": {slice("http", corev1.ProtocolTCP, 8080, tc.eps)}})
			if len(got) != 2 || got[0].Name != "default/web:dns" || got[1].Name != "default/web:http" {
				t.Fatalf("services %+v", got)
			}
			if len(got[0].Endpoints) != 0 {
				t.Fatalf("udp port got tcp endpoints %v", got[0].Endpoints)
			}
			var eps []string
			for _, e := range got[1].Endpoints {
				eps = append(eps, e.String())
			}
			if strings.Join(eps, ",") != strings.Join(tc.want, ",") || got[1].NodePort != 30080 || got[0].NodePort != 0 {
				t.Fatalf("got %v nodePort %d, want %v", eps, got[1].NodePort, tc.want)
			}
		})
	}
}

func TestBuildSkips(t *testing.T) {
	headless := svc("headless", "None", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80})
	ext := svc("ext", "", corev1.ServiceTypeExternalName, corev1.ServicePort{Port: 80})
	sctp := svc("sctp", "10.43.0.7", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolSCTP})
	aff := svc("aff", "10.43.0.8", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80})
	aff.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	got := Build("n1", []*corev1.Service{headless, ext, sctp, aff}, nil)
	if len(got) != 1 || got[0].Name != "default/aff:80" || got[0].AffinitySeconds != 10800 || got[0].Protocol != corev1.ProtocolTCP {
		t.Fatalf("%+v", got)
	}
}

func TestBuildExternalLocal(t *testing.T) {
	web := svc("web", "10.43.0.5", corev1.ServiceTypeNodePort, corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080})
	web.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	es := slice("http", corev1.ProtocolTCP, 8080, map[string]epState{"10.42.0.2": {true, true, false}, "10.42.0.3": {true, true, false}})
	for i := range es.Endpoints {
		if es.Endpoints[i].Addresses[0] == "10.42.0.2" {
			es.Endpoints[i].NodeName = ptr.To("n1")
		} else {
			es.Endpoints[i].NodeName = ptr.To("n2")
		}
	}
	got := Build("n1", []*corev1.Service{web}, map[string][]*discoveryv1.EndpointSlice{"default/web": {es}})
	if len(got) != 1 || !got[0].ExternalLocal || len(got[0].Endpoints) != 2 || len(got[0].LocalEndpoints) != 1 ||
		got[0].LocalEndpoints[0].String() != "10.42.0.2:8080" {
		t.Fatalf("%+v", got)
	}
}

func testServices() []Service {
	return []Service{
		{Name: "default/local:80", ClusterIP: netip.MustParseAddr("10.43.0.8"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30081, ExternalLocal: true,
			Endpoints:      []netip.AddrPort{netip.MustParseAddrPort("10.42.0.5:80"), netip.MustParseAddrPort("10.42.1.5:80")},
			LocalEndpoints: []netip.AddrPort{netip.MustParseAddrPort("10.42.0.5:80")}},
		{Name: "default/local-none:80", ClusterIP: netip.MustParseAddr("10.43.0.9"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30082, ExternalLocal: true,
			Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.42.1.6:80")}},
		{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.43.0.5"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080,
			Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.42.0.2:8080"), netip.MustParseAddrPort("10.42.0.3:8080")}},
		{Name: "default/empty:53", ClusterIP: netip.MustParseAddr("10.43.0.6"), Protocol: corev1.ProtocolUDP, Port: 53, NodePort: 30053},
		{Name: "default/sticky:80", ClusterIP: netip.MustParseAddr("10.43.0.7"), Protocol: corev1.ProtocolTCP, Port: 80, AffinitySeconds: 60,
			Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.42.0.4:80")}},
	}
}

func TestRender(t *testing.T) {
	out := Render(RenderConfig{PodCIDR: netip.MustParsePrefix("10.42.0.0/24")}, testServices())
	web := chainID("default/web:http", "TCP")
	sep2 := chainID("default/web:http", "TCP", "10.42.0.2:8080")
	sticky := chainID("default/sticky:80", "TCP", "10.42.0.4:80")
	for _, want := range []string{
		"delete table ip skiff-proxy",
		"10.43.0.5 . tcp . 80 : goto svc-" + web,
		"tcp . 30080 : goto ext-" + web,
		"elements = { 10.43.0.6 . udp . 53 }",
		"elements = { udp . 30053 }",
		"ip saddr != 10.42.0.0/24 jump mark-for-masquerade",
		"numgen random mod 2 vmap { 0 : goto sep-" + sep2,
		"ip saddr 10.42.0.2 jump mark-for-masquerade",
		"meta l4proto tcp dnat to 10.42.0.2:8080",
		"ip saddr @aff-" + sticky + " goto sep-" + sticky,
		"update @aff-" + sticky + " { ip saddr }",
		"timeout 60s",
		"ip saddr 10.42.0.0/24 goto svc-" + chainID("default/local:80", "TCP"),
		"numgen random mod 1 vmap { 0 : goto sep-" + chainID("default/local:80", "TCP", "10.42.0.5:80") + " }",
		"chain ext-" + chainID("default/local-none:80", "TCP") + " {\n\t\tip saddr 10.42.0.0/24 goto svc-" + chainID("default/local-none:80", "TCP") + "\n\t\tdrop",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "10.43.0.6 . udp . 53 : goto") {
		t.Errorf("a Service without endpoints got a service chain")
	}
	if Render(RenderConfig{}, testServices()) == out {
		t.Errorf("PodCIDR not used")
	}
}

// TestRenderParses asks nft to check the script (no change is made: -c). Needs nft and CAP_NET_ADMIN.
func TestRenderParses(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft")
	}
	for _, svcs := range [][]Service{nil, testServices()} {
		script := Render(RenderConfig{PodCIDR: netip.MustParsePrefix("10.42.0.0/24")}, svcs)
		cmd := exec.Command("nft", "-c", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			if strings.Contains(string(out), "Operation not permitted") {
				t.Skip("nft -c needs CAP_NET_ADMIN")
			}
			t.Fatalf("nft -c: %v\n%s\nscript:\n%s", err, out, script)
		}
	}
}

func TestStaleUDP(t *testing.T) {
	ap := netip.MustParseAddrPort
	dns := func(eps ...string) Service {
		s := Service{Name: "kube-system/kube-dns:dns", ClusterIP: netip.MustParseAddr("10.43.0.10"), Protocol: corev1.ProtocolUDP, Port: 53}
		for _, e := range eps {
			s.Endpoints = append(s.Endpoints, ap(e))
		}
		return s
	}
	tcp := Service{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.43.0.5"), Protocol: corev1.ProtocolTCP, Port: 80,
		Endpoints: []netip.AddrPort{ap("10.42.0.2:8080")}}
	for _, tc := range []struct {
		name       string
		prev, next []Service
		want       []Flush
	}{
		{"first endpoint flushes the VIP", []Service{dns()}, []Service{dns("10.42.0.1:10053")}, []Flush{{VIP: ap("10.43.0.10:53")}}},
		{"removed endpoint", []Service{dns("10.42.0.1:10053", "10.42.0.2:53")}, []Service{dns("10.42.0.2:53")},
			[]Flush{{VIP: ap("10.43.0.10:53"), Endpoint: netip.MustParseAddr("10.42.0.1")}}},
		{"unchanged", []Service{dns("10.42.0.2:53")}, []Service{dns("10.42.0.2:53")}, nil},
		{"new Service", nil, []Service{dns("10.42.0.2:53")}, nil},
		{"TCP ignored", []Service{tcp}, []Service{{Name: tcp.Name, ClusterIP: tcp.ClusterIP, Protocol: corev1.ProtocolTCP, Port: 80}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := StaleUDP(tc.prev, tc.next)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}
