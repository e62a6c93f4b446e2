package proxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
)

func TestStaleUDP(t *testing.T) {
	ap := netip.MustParseAddrPort
	dns := func(eps ...string) Service {
		s := Service{Name: "kube-system/kube-dns:dns", ClusterIP: netip.MustParseAddr("10.43.0.10"), Protocol: corev1.ProtocolUDP, Port: 53}
		for _, e := range eps {
			s.Endpoints = append(s.Endpoints, ap(e))
		}
		return s
	}
	ext := func(eps ...string) Service {
		s := dns(eps...)
		s.NodePort, s.LoadBalancerIPs = 30053, []netip.Addr{netip.MustParseAddr("192.0.2.7")}
		return s
	}
	// internalTrafficPolicy Local on a node without local endpoints: nothing reachable before or after.
	itp := func(eps ...string) Service {
		s := dns(eps...)
		s.InternalLocal = true
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
		{"NodePort and load-balancer IP flows of a removed endpoint", []Service{ext("10.42.0.1:53", "10.42.0.2:53")}, []Service{ext("10.42.0.2:53")},
			[]Flush{{VIP: ap("10.43.0.10:53"), Endpoint: netip.MustParseAddr("10.42.0.1")},
				{VIP: ap("192.0.2.7:53"), Endpoint: netip.MustParseAddr("10.42.0.1")},
				{VIP: netip.AddrPortFrom(netip.Addr{}, 30053), Endpoint: netip.MustParseAddr("10.42.0.1")}}},
		{"internal-Local: an endpoint elsewhere was never reachable", []Service{itp("10.42.0.2:53")}, []Service{itp()}, nil},
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

// TestConntrackFilter checks the netlink filters against flows as the kernel reports them.
func TestConntrackFilter(t *testing.T) {
	flow := func(proto uint8, dst string, dport uint16, replySrc string) *netlink.ConntrackFlow {
		return &netlink.ConntrackFlow{FamilyType: netlink.FAMILY_V4,
			Forward: netlink.IPTuple{Protocol: proto, SrcIP: net.ParseIP("10.42.0.9"), SrcPort: 40000, DstIP: net.ParseIP(dst), DstPort: dport},
			Reverse: netlink.IPTuple{Protocol: proto, SrcIP: net.ParseIP(replySrc), SrcPort: 53, DstIP: net.ParseIP("10.42.0.9"), DstPort: 40000}}
	}
	vip := Flush{VIP: netip.MustParseAddrPort("10.43.0.10:53"), Endpoint: netip.MustParseAddr("10.42.0.1")}
	nodePort := Flush{VIP: netip.AddrPortFrom(netip.Addr{}, 30053)}
	for _, tc := range []struct {
		name string
		f    Flush
		flow *netlink.ConntrackFlow
		want bool
	}{
		{"VIP to the endpoint", vip, flow(17, "10.43.0.10", 53, "10.42.0.1"), true},
		{"VIP to another endpoint", vip, flow(17, "10.43.0.10", 53, "10.42.0.2"), false},
		{"TCP", vip, flow(6, "10.43.0.10", 53, "10.42.0.1"), false},
		{"other port", vip, flow(17, "10.43.0.10", 54, "10.42.0.1"), false},
		{"NodePort on any address", nodePort, flow(17, "192.0.2.1", 30053, "10.42.0.7"), true},
	} {
		if got := conntrackFilter(tc.f).MatchConntrackFlow(tc.flow); got != tc.want {
			t.Errorf("%s: match %v, want %v", tc.name, got, tc.want)
		}
	}
}
