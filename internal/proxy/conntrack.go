package proxy

import (
	"context"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
)

// Flush is one set of stale UDP conntrack entries to delete. UDP has no connection end, so an entry keeps
// sending a client's datagrams where the first one went: to an endpoint that is gone, or (for a Service that
// had no endpoints) nowhere. Upstream kube-proxy deletes the same entries.
type Flush struct {
	// VIP is the original destination: a ClusterIP or load-balancer IP with the Service port, or, with no
	// address (VIP.Addr() invalid), a NodePort on any address.
	VIP netip.AddrPort
	// Endpoint, when valid, limits the flush to entries DNATed to it; otherwise all entries for VIP go.
	Endpoint netip.Addr
}

// destinations are the original destinations of a Service port's traffic.
func destinations(s Service) []netip.AddrPort {
	out := []netip.AddrPort{netip.AddrPortFrom(s.ClusterIP, uint16(s.Port))}
	for _, ip := range s.LoadBalancerIPs {
		out = append(out, netip.AddrPortFrom(ip, uint16(s.Port)))
	}
	if s.NodePort != 0 {
		out = append(out, netip.AddrPortFrom(netip.Addr{}, uint16(s.NodePort)))
	}
	return out
}

// StaleUDP compares two syncs' Services (pure): UDP endpoints this node no longer sends to have their
// entries flushed, and a UDP Service that gets its first reachable endpoint has all its entries flushed.
func StaleUDP(prev, next []Service) []Flush {
	old := map[string]Service{}
	for _, s := range prev {
		old[s.Name] = s
	}
	var out []Flush
	for _, s := range next {
		if s.Protocol != corev1.ProtocolUDP {
			continue
		}
		p, seen := old[s.Name]
		was, now := p.Reachable(), s.Reachable()
		if seen && len(was) == 0 && len(now) > 0 {
			for _, d := range destinations(s) {
				out = append(out, Flush{VIP: d})
			}
			continue
		}
		still := map[netip.Addr]bool{}
		for _, ep := range now {
			still[ep.Addr()] = true
		}
		for _, ep := range was {
			if !still[ep.Addr()] {
				for _, d := range destinations(p) {
					out = append(out, Flush{VIP: d, Endpoint: ep.Addr()})
				}
			}
		}
	}
	return out
}

// FlushConntrack deletes the entries over netlink (what `conntrack -D -p udp --orig-dst IP
// --orig-port-dst PORT [--reply-src ENDPOINT]` does), all flushes in one pass over the table.
func FlushConntrack(_ context.Context, flushes []Flush) error {
	if len(flushes) == 0 {
		return nil
	}
	filters := make([]netlink.CustomConntrackFilter, 0, len(flushes))
	for _, f := range flushes {
		filters = append(filters, conntrackFilter(f))
	}
	_, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, netlink.FAMILY_V4, filters...)
	return err
}

func conntrackFilter(f Flush) *netlink.ConntrackFilter {
	c := &netlink.ConntrackFilter{}
	// The errors are for attributes set twice or ports without a protocol: not possible here.
	_ = c.AddProtocol(17)
	if f.VIP.Addr().IsValid() {
		_ = c.AddIP(netlink.ConntrackOrigDstIP, net.IP(f.VIP.Addr().AsSlice()))
	}
	_ = c.AddPort(netlink.ConntrackOrigDstPort, f.VIP.Port())
	if f.Endpoint.IsValid() {
		// The endpoint answers: it is the reply direction's source.
		_ = c.AddIP(netlink.ConntrackReplySrcIP, net.IP(f.Endpoint.AsSlice()))
	}
	return c
}
