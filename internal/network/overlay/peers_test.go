package overlay

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func mkNode(name, cidr, ip, mac string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	if mac != "" {
		n.Annotations[AnnotationVtepMAC] = mac
	}
	return n
}

func TestPeers(t *testing.T) {
	nodes := []*corev1.Node{
		mkNode("self", "10.42.0.0/24", "192.168.1.1", VtepMAC("self").String()),
		mkNode("b", "10.42.2.0/24", "192.168.1.3", VtepMAC("b").String()),
		mkNode("a", "10.42.1.0/24", "192.168.1.2", VtepMAC("a").String()),
		mkNode("no-cidr", "", "192.168.1.4", VtepMAC("no-cidr").String()),
		mkNode("no-ip", "10.42.4.0/24", "", VtepMAC("no-ip").String()),
		mkNode("no-mac", "10.42.5.0/24", "192.168.1.6", ""),
		mkNode("clash", "10.42.0.0/24", "192.168.1.7", VtepMAC("clash").String()),
		mkNode("v6", "fd00::/64", "192.168.1.8", VtepMAC("v6").String()),
		mkNode("same-ip", "10.42.9.0/24", "192.168.1.1", VtepMAC("same-ip").String()),
	}
	self := netip.MustParsePrefix("10.42.0.0/24")
	got := Peers("self", self, netip.MustParseAddr("192.168.1.1"), nodes, VXLAN)
	if len(got) != 2 || got[0].Node != "a" || got[1].Node != "b" {
		t.Fatalf("vxlan peers %+v", got)
	}
	if got[0].Gateway() != netip.MustParseAddr("10.42.1.0") || got[0].NodeIP != netip.MustParseAddr("192.168.1.2") || got[0].VtepMAC.String() != VtepMAC("a").String() {
		t.Fatalf("peer a %+v", got[0])
	}
	// host-gw needs no MAC.
	if got := Peers("self", self, netip.MustParseAddr("192.168.1.1"), nodes, HostGW); len(got) != 3 || got[2].Node != "no-mac" {
		t.Fatalf("host-gw peers %+v", got)
	}
}

func TestVtepMAC(t *testing.T) {
	a, b := VtepMAC("node-a"), VtepMAC("node-b")
	if a.String() == b.String() || a.String() != VtepMAC("node-a").String() {
		t.Fatalf("macs %s %s", a, b)
	}
	if a[0]&0x02 == 0 || a[0]&0x01 != 0 {
		t.Fatalf("%s is not a locally administered unicast MAC", a)
	}
}

func TestNodeIPPrefersInternal(t *testing.T) {
	n := mkNode("n", "", "", "")
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "203.0.113.9"}, {Type: corev1.NodeInternalIP, Address: "fd00::1"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.9"}}
	if got := NodeIP(n); got != netip.MustParseAddr("10.0.0.9") {
		t.Fatalf("NodeIP = %s", got)
	}
}
