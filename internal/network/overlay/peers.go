package overlay

import (
	"crypto/sha256"
	"net"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// AnnotationVtepMAC is the MAC address of a node's VXLAN device, published by that node's agent.
const AnnotationVtepMAC = "network.skiff.io/vtep-mac"

// Backends.
const (
	VXLAN  = "vxlan"
	HostGW = "host-gw"
)

// Peer is another node whose pod subnet this node routes to.
type Peer struct {
	Node    string
	PodCIDR netip.Prefix
	NodeIP  netip.Addr
	// VtepMAC is the peer's VXLAN device MAC (vxlan only).
	VtepMAC net.HardwareAddr
}

// Gateway is the peer's VTEP address: the network address of its pod subnet.
func (p Peer) Gateway() netip.Addr { return p.PodCIDR.Masked().Addr() }

// VtepMAC derives a node's VXLAN MAC from its name: stable across restarts, locally administered, unicast.
func VtepMAC(nodeName string) net.HardwareAddr {
	h := sha256.Sum256([]byte("skiff-vtep/" + nodeName))
	mac := net.HardwareAddr(h[:6])
	mac[0] = (mac[0] | 0x02) &^ 0x01
	return mac
}

// NodeIP is the address other nodes reach a node at: its first IPv4 InternalIP, else ExternalIP.
func NodeIP(n *corev1.Node) netip.Addr {
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range n.Status.Addresses {
			if a.Type != t {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				return ip
			}
		}
	}
	return netip.Addr{}
}

// PodCIDR is a node's IPv4 pod subnet, if it has one.
func PodCIDR(n *corev1.Node) (netip.Prefix, bool) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() {
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// Peers are the nodes other than self that can be routed to with backend: a pod subnet that does not
// overlap self's, an IPv4 address other than self's, and for vxlan a VTEP MAC. Sorted by node name.
func Peers(self string, selfCIDR netip.Prefix, selfIP netip.Addr, nodes []*corev1.Node, backend string) []Peer {
	var out []Peer
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		cidr, ok := PodCIDR(n)
		ip := NodeIP(n)
		if !ok || !ip.IsValid() || (selfCIDR.IsValid() && cidr.Overlaps(selfCIDR)) || (selfIP.IsValid() && ip == selfIP) {
			continue
		}
		p := Peer{Node: n.Name, PodCIDR: cidr, NodeIP: ip}
		if backend == VXLAN {
			mac, err := net.ParseMAC(n.Annotations[AnnotationVtepMAC])
			if err != nil || len(mac) != 6 {
				continue
			}
			p.VtepMAC = mac
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}
