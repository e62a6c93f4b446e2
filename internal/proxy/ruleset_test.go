package proxy

import (
	"fmt"
	"net/netip"
	"os"
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

func TestBuildInternalLocal(t *testing.T) {
	web := svc("web", "10.43.0.5", corev1.ServiceTypeClusterIP, corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP})
	web.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	// A ready endpoint elsewhere, a serving+terminating one here: the Local policy falls back on its
	// own (upstream), the Cluster one keeps the ready endpoint.
	es := slice("http", corev1.ProtocolTCP, 8080, map[string]epState{"10.42.0.2": {false, true, true}, "10.42.1.3": {true, true, false}})
	for i := range es.Endpoints {
		node := "n2"
		if es.Endpoints[i].Addresses[0] == "10.42.0.2" {
			node = "n1"
		}
		es.Endpoints[i].NodeName = ptr.To(node)
	}
	got := Build("n1", []*corev1.Service{web}, map[string][]*discoveryv1.EndpointSlice{"default/web": {es}})
	if len(got) != 1 || !got[0].InternalLocal || got[0].ExternalLocal || fmt.Sprint(got[0].Endpoints) != "[10.42.1.3:8080]" ||
		fmt.Sprint(got[0].LocalEndpoints) != "[10.42.0.2:8080]" || fmt.Sprint(got[0].Reachable()) != "[10.42.0.2:8080]" {
		t.Fatalf("%+v reachable %v", got, got[0].Reachable())
	}
	// On another node there is nothing local: ClusterIP traffic is dropped there.
	got = Build("n3", []*corev1.Service{web}, map[string][]*discoveryv1.EndpointSlice{"default/web": {es}})
	rs := Compute(RenderConfig{}, got)
	if v := rs.Elems[mapNoEndpointServices]["10.43.0.5 . tcp . 80"]; v != "drop" || len(got[0].Reachable()) != 0 {
		t.Fatalf("no local endpoint: verdict %q, reachable %v", v, got[0].Reachable())
	}
}

func TestBuildLoadBalancer(t *testing.T) {
	lb := svc("lb", "10.43.0.5", corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080})
	proxyMode := corev1.LoadBalancerIPModeProxy
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.7"}, {IP: "127.0.0.1"}, {IP: "192.0.2.1"},
		{IP: "192.0.2.9", IPMode: &proxyMode}, {Hostname: "lb.example.com"}, {IP: "2001:db8::1"}, {IP: "192.0.2.7"}}
	// The same status on a ClusterIP Service (a type change the controller has not cleared yet) is ignored.
	stale := lb.DeepCopy()
	stale.Name, stale.Spec.Type, stale.Spec.ClusterIP = "stale", corev1.ServiceTypeClusterIP, "10.43.0.6"
	got := Build("n1", []*corev1.Service{lb, stale}, nil)
	if len(got) != 2 || fmt.Sprint(got[0].LoadBalancerIPs) != "[192.0.2.1 192.0.2.7]" || got[0].NodePort != 30080 || got[1].LoadBalancerIPs != nil {
		t.Fatalf("%+v", got)
	}
}

func TestComputeLoadBalancer(t *testing.T) {
	ap := netip.MustParseAddrPort
	lbIP := []netip.Addr{netip.MustParseAddr("192.0.2.7")}
	cluster := Service{Name: "default/lb:http", ClusterIP: netip.MustParseAddr("10.43.0.5"), Protocol: corev1.ProtocolTCP, Port: 80,
		LoadBalancerIPs: lbIP, Endpoints: []netip.AddrPort{ap("10.42.0.2:8080")}}
	local := Service{Name: "default/lb-local:http", ClusterIP: netip.MustParseAddr("10.43.0.6"), Protocol: corev1.ProtocolTCP, Port: 81,
		LoadBalancerIPs: lbIP, ExternalLocal: true, Endpoints: []netip.AddrPort{ap("10.42.1.2:8080")}}
	none := Service{Name: "default/lb-none:http", ClusterIP: netip.MustParseAddr("10.43.0.7"), Protocol: corev1.ProtocolTCP, Port: 82, LoadBalancerIPs: lbIP}
	rs := Compute(RenderConfig{PodCIDR: netip.MustParsePrefix("10.42.0.0/24")}, []Service{cluster, local, none})
	id := chainID(cluster.Name, "TCP")
	if v := rs.Elems[mapServiceIPs]["192.0.2.7 . tcp . 80"]; v != "goto ext-"+id {
		t.Errorf("load-balancer IP: %q", v)
	}
	if r := chainRules(rs, "ext-"+id); r != "jump mark-for-masquerade\ngoto svc-"+id {
		t.Errorf("ext chain %q", r)
	}
	// externalTrafficPolicy Local without an endpoint here: pods and the host still get in (ext chain),
	// outside traffic is dropped.
	if v := rs.Elems[mapServiceIPs]["192.0.2.7 . tcp . 81"]; v != "goto ext-"+chainID(local.Name, "TCP") {
		t.Errorf("local load-balancer IP: %q", v)
	}
	if v := rs.Elems[mapNoEndpointServices]["192.0.2.7 . tcp . 81"]; v != "drop" {
		t.Errorf("local without endpoints here: %q", v)
	}
	if v := rs.Elems[mapNoEndpointServices]["192.0.2.7 . tcp . 82"]; v != "goto reject-chain" {
		t.Errorf("no endpoints: %q", v)
	}
}

func testServices() []Service {
	ap := netip.MustParseAddrPort
	return []Service{
		{Name: "default/local:80", ClusterIP: netip.MustParseAddr("10.43.0.8"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30081, ExternalLocal: true,
			Endpoints: []netip.AddrPort{ap("10.42.0.5:80"), ap("10.42.1.5:80")}, LocalEndpoints: []netip.AddrPort{ap("10.42.0.5:80")}},
		{Name: "default/local-none:80", ClusterIP: netip.MustParseAddr("10.43.0.9"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30082, ExternalLocal: true,
			Endpoints: []netip.AddrPort{ap("10.42.1.6:80")}},
		{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.43.0.5"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080,
			Endpoints: []netip.AddrPort{ap("10.42.0.2:8080"), ap("10.42.0.3:8080")}},
		{Name: "default/empty:53", ClusterIP: netip.MustParseAddr("10.43.0.6"), Protocol: corev1.ProtocolUDP, Port: 53, NodePort: 30053},
		{Name: "default/sticky:80", ClusterIP: netip.MustParseAddr("10.43.0.7"), Protocol: corev1.ProtocolTCP, Port: 80, AffinitySeconds: 60,
			Endpoints: []netip.AddrPort{ap("10.42.0.4:80")}},
		{Name: "default/itp:80", ClusterIP: netip.MustParseAddr("10.43.0.11"), Protocol: corev1.ProtocolTCP, Port: 80, InternalLocal: true,
			Endpoints: []netip.AddrPort{ap("10.42.0.9:80"), ap("10.42.1.9:80")}, LocalEndpoints: []netip.AddrPort{ap("10.42.0.9:80")}},
		{Name: "default/itp-none:80", ClusterIP: netip.MustParseAddr("10.43.0.12"), Protocol: corev1.ProtocolTCP, Port: 80, InternalLocal: true,
			Endpoints: []netip.AddrPort{ap("10.42.1.10:80")}},
		{Name: "default/lb:80", ClusterIP: netip.MustParseAddr("10.43.0.14"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30084, ExternalLocal: true,
			LoadBalancerIPs: []netip.Addr{netip.MustParseAddr("192.0.2.7")}, Endpoints: []netip.AddrPort{ap("10.42.0.12:80")}, LocalEndpoints: []netip.AddrPort{ap("10.42.0.12:80")}},
		{Name: "default/itp-nodeport:80", ClusterIP: netip.MustParseAddr("10.43.0.13"), Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30083, InternalLocal: true,
			Endpoints: []netip.AddrPort{ap("10.42.1.11:80")}},
	}
}

// chainRules returns a chain's rules of the computed ruleset, joined by newlines.
func chainRules(rs *Ruleset, name string) string { return strings.Join(rs.Chains[name].Rules, "\n") }

func TestCompute(t *testing.T) {
	cidr := netip.MustParsePrefix("10.42.0.0/24")
	rs := Compute(RenderConfig{PodCIDR: cidr}, testServices())
	id := func(name string) string { return chainID(name, "TCP") }
	sep := func(name, ep string) string { return "sep-" + chainID(name, "TCP", ep) }
	web, sticky := id("default/web:http"), chainID("default/sticky:80", "TCP", "10.42.0.4:80", "60")
	ips, nps := rs.Elems[mapServiceIPs], rs.Elems[mapServiceNodePorts]
	noEp, noEpNP := rs.Elems[mapNoEndpointServices], rs.Elems[mapNoEndpointNodePorts]
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
	contains := func(what, got, want string) {
		t.Helper()
		if !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", what, got, want)
		}
	}
	// Cluster policy: ClusterIP and NodePort, masquerade off-pod-network ClusterIP traffic, spread.
	check("web vip", ips["10.43.0.5 . tcp . 80"], "goto svc-"+web)
	check("web nodeport", nps["tcp . 30080"], "goto ext-"+web)
	check("web svc", chainRules(rs, "svc-"+web), "ip daddr 10.43.0.5 ip saddr != 10.42.0.0/24 jump mark-for-masquerade\n"+
		"numgen random mod 2 == 0 goto "+sep("default/web:http", "10.42.0.2:8080")+"\ngoto "+sep("default/web:http", "10.42.0.3:8080"))
	check("web ext", chainRules(rs, "ext-"+web), "jump mark-for-masquerade\ngoto svc-"+web)
	check("web sep", chainRules(rs, sep("default/web:http", "10.42.0.2:8080")),
		"ip saddr 10.42.0.2 jump mark-for-masquerade\nmeta l4proto tcp dnat to 10.42.0.2:8080")
	// No endpoints anywhere: rejected, ClusterIP and NodePort.
	check("empty vip", noEp["10.43.0.6 . udp . 53"], "goto reject-chain")
	check("empty nodeport", noEpNP["udp . 30053"], "goto reject-chain")
	if _, ok := ips["10.43.0.6 . udp . 53"]; ok {
		t.Error("a Service without endpoints is in service-ips")
	}
	// Session affinity.
	contains("sticky svc", chainRules(rs, "svc-"+id("default/sticky:80")), "ip saddr @aff-"+sticky+" goto sep-"+sticky)
	contains("sticky sep", chainRules(rs, "sep-"+sticky), "update @aff-"+sticky+" { ip saddr }")
	check("sticky set", rs.Sets["aff-"+sticky], "type ipv4_addr; flags dynamic,timeout; timeout 60s;")
	// externalTrafficPolicy Local: pods and the host short-circuit to the whole Service, the rest to
	// the local endpoints; without local endpoints the rest is dropped by the filter chains.
	local := id("default/local:80")
	check("local ext", chainRules(rs, "ext-"+local), "ip saddr 10.42.0.0/24 goto svc-"+local+
		"\nfib saddr type local jump mark-for-masquerade\nfib saddr type local goto svc-"+local+"\ngoto local-"+local)
	check("local local", chainRules(rs, "local-"+local), "goto "+sep("default/local:80", "10.42.0.5:80"))
	none := id("default/local-none:80")
	check("local-none ext", chainRules(rs, "ext-"+none), "ip saddr 10.42.0.0/24 goto svc-"+none+
		"\nfib saddr type local jump mark-for-masquerade\nfib saddr type local goto svc-"+none)
	check("local-none nodeport", noEpNP["tcp . 30082"], "drop")
	check("local-none vip", ips["10.43.0.9 . tcp . 80"], "goto svc-"+none)
	// internalTrafficPolicy Local: the ClusterIP goes to the local chain only; none local: dropped.
	itp := id("default/itp:80")
	check("itp vip", ips["10.43.0.11 . tcp . 80"], "goto local-"+itp)
	check("itp local", chainRules(rs, "local-"+itp), "ip daddr 10.43.0.11 ip saddr != 10.42.0.0/24 jump mark-for-masquerade\n"+
		"goto "+sep("default/itp:80", "10.42.0.9:80"))
	if _, ok := rs.Chains["svc-"+itp]; ok {
		t.Error("internalTrafficPolicy Local without external access has a Cluster chain")
	}
	if _, ok := rs.Chains[sep("default/itp:80", "10.42.1.9:80")]; ok {
		t.Error("a remote endpoint of an internal-Local Service has a chain")
	}
	check("itp-none vip", noEp["10.43.0.12 . tcp . 80"], "drop")
	if _, ok := ips["10.43.0.12 . tcp . 80"]; ok {
		t.Error("internal-Local without local endpoints is in service-ips")
	}
	// internalTrafficPolicy Local with a NodePort (externalTrafficPolicy Cluster): the NodePort still
	// reaches every endpoint, the ClusterIP none.
	itpNP := id("default/itp-nodeport:80")
	check("itp-nodeport vip", noEp["10.43.0.13 . tcp . 80"], "drop")
	check("itp-nodeport nodeport", nps["tcp . 30083"], "goto ext-"+itpNP)
	check("itp-nodeport svc", chainRules(rs, "svc-"+itpNP), "goto "+sep("default/itp-nodeport:80", "10.42.1.11:80"))

	// Without a pod CIDR every ClusterIP client is masqueraded and nothing short-circuits.
	rs = Compute(RenderConfig{}, testServices())
	contains("no cidr", chainRules(rs, "svc-"+web), "ip daddr 10.43.0.5 jump mark-for-masquerade")
	check("no cidr ext", chainRules(rs, "ext-"+local), "fib saddr type local jump mark-for-masquerade\nfib saddr type local goto svc-"+local+"\ngoto local-"+local)
}

// nftCheck asks nft to check a script against the kernel (no change is made: -c). Needs nft and root.
func nftCheck(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("nft", "-c", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -c: %v\n%s\nscript:\n%s", err, out, script)
	}
}

// testTable names a throwaway table: the real one may belong to a running cluster.
func testTable() string { return fmt.Sprintf("skiff-test-%d", os.Getpid()) }

func needNFT(t testing.TB) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft")
	}
	if os.Geteuid() != 0 {
		t.Skip("nft needs root")
	}
}

func TestRenderParses(t *testing.T) {
	needNFT(t)
	table := testTable()
	for _, svcs := range [][]Service{nil, testServices()} {
		nftCheck(t, FullScript(table, Compute(RenderConfig{PodCIDR: netip.MustParsePrefix("10.42.0.0/24")}, svcs), Existing{}))
	}
}
