package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
)

// RouteProtocol marks the routes this package installs (rtnetlink protocol number, "skiff").
const RouteProtocol netlink.RouteProtocol = 0x5a

// vxlanOverhead is what VXLAN encapsulation adds to a packet (outer IPv4, UDP, VXLAN headers, inner Ethernet).
const vxlanOverhead = 50

// Device describes this node's VXLAN device.
type Device struct {
	Name    string
	VNI     int
	Port    int
	LocalIP netip.Addr // the node's address, the source of encapsulated packets
	MAC     net.HardwareAddr
	Addr    netip.Addr // the VTEP address: the network address of this node's pod subnet
}

// ensureVXLAN creates or fixes the device: VNI, port, local address, MAC, MTU (the underlay's minus the
// encapsulation), the VTEP address as its only IPv4 address, up. A device of another kind or VNI is replaced.
func ensureVXLAN(d Device) (netlink.Link, error) {
	underlay, mtu := underlayOf(d.LocalIP)
	want := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: d.Name, MTU: mtu - vxlanOverhead, HardwareAddr: d.MAC},
		VxlanId: d.VNI, Port: d.Port, SrcAddr: net.IP(d.LocalIP.AsSlice()), VtepDevIndex: underlay, Learning: false}
	link, err := netlink.LinkByName(d.Name)
	if err == nil {
		vx, ok := link.(*netlink.Vxlan)
		if !ok || vx.VxlanId != d.VNI || vx.Port != d.Port || !vx.SrcAddr.Equal(want.SrcAddr) || vx.VtepDevIndex != underlay {
			if err := netlink.LinkDel(link); err != nil {
				return nil, fmt.Errorf("replace %s: %w", d.Name, err)
			}
			link = nil
		}
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, err
	} else {
		link = nil
	}
	if link == nil {
		if err := netlink.LinkAdd(want); err != nil {
			return nil, fmt.Errorf("create %s: %w", d.Name, err)
		}
		if link, err = netlink.LinkByName(d.Name); err != nil {
			return nil, err
		}
	}
	if link.Attrs().HardwareAddr.String() != d.MAC.String() {
		if err := netlink.LinkSetHardwareAddr(link, d.MAC); err != nil {
			return nil, err
		}
	}
	if link.Attrs().MTU != want.MTU {
		if err := netlink.LinkSetMTU(link, want.MTU); err != nil {
			return nil, err
		}
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	have := false
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == d.Addr {
			have = true
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			return nil, err
		}
	}
	if !have {
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(d.Addr.AsSlice()), Mask: net.CIDRMask(32, 32)}}); err != nil {
			return nil, err
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, err
	}
	return link, nil
}

// underlayOf is the index and MTU of the link holding ip (0 and 1500 when none does).
func underlayOf(ip netip.Addr) (int, int) {
	links, err := netlink.LinkList()
	if err != nil {
		return 0, 1500
	}
	for _, l := range links {
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
				return l.Attrs().Index, l.Attrs().MTU
			}
		}
	}
	return 0, 1500
}

// syncVXLAN makes the device's neighbours, forwarding entries and routes exactly the peers'.
func syncVXLAN(link netlink.Link, peers []Peer) error {
	idx := link.Attrs().Index
	var errs []error
	wantNeigh, wantFDB, wantRoute := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range peers {
		gw := net.IP(p.Gateway().AsSlice())
		wantNeigh[gw.String()+"/"+p.VtepMAC.String()] = true
		wantFDB[p.VtepMAC.String()+"/"+net.IP(p.NodeIP.AsSlice()).String()] = true
		wantRoute[p.PodCIDR.String()] = true
		errs = append(errs,
			netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT, IP: gw, HardwareAddr: p.VtepMAC}),
			netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: syscall.AF_BRIDGE, Flags: netlink.NTF_SELF, State: netlink.NUD_PERMANENT,
				IP: net.IP(p.NodeIP.AsSlice()), HardwareAddr: p.VtepMAC}),
			netlink.RouteReplace(&netlink.Route{LinkIndex: idx, Dst: prefixNet(p.PodCIDR), Gw: gw, Flags: int(netlink.FLAG_ONLINK), Protocol: RouteProtocol}))
	}
	if neighs, err := netlink.NeighList(idx, netlink.FAMILY_V4); err == nil {
		for _, n := range neighs {
			if !wantNeigh[n.IP.String()+"/"+n.HardwareAddr.String()] && n.State&netlink.NUD_PERMANENT != 0 {
				errs = append(errs, netlink.NeighDel(&n))
			}
		}
	} else {
		errs = append(errs, err)
	}
	if fdb, err := netlink.NeighList(idx, syscall.AF_BRIDGE); err == nil {
		for _, n := range fdb {
			if n.IP != nil && !wantFDB[n.HardwareAddr.String()+"/"+n.IP.String()] {
				errs = append(errs, netlink.NeighDel(&n))
			}
		}
	} else {
		errs = append(errs, err)
	}
	errs = append(errs, pruneRoutes(idx, wantRoute))
	return errors.Join(errs...)
}

// syncHostGW routes every peer's pod subnet via its node address.
func syncHostGW(peers []Peer) error {
	var errs []error
	want := map[string]bool{}
	for _, p := range peers {
		want[p.PodCIDR.String()] = true
		errs = append(errs, netlink.RouteReplace(&netlink.Route{Dst: prefixNet(p.PodCIDR), Gw: net.IP(p.NodeIP.AsSlice()), Protocol: RouteProtocol}))
	}
	errs = append(errs, pruneRoutes(0, want))
	return errors.Join(errs...)
}

// pruneRoutes deletes this package's IPv4 routes (on link idx, or any link when 0) not in want.
func pruneRoutes(idx int, want map[string]bool) error {
	filter, mask := &netlink.Route{Protocol: RouteProtocol, LinkIndex: idx}, netlink.RT_FILTER_PROTOCOL
	if idx != 0 {
		mask |= netlink.RT_FILTER_OIF
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, filter, mask)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range routes {
		if r.Dst == nil || !want[r.Dst.String()] {
			errs = append(errs, netlink.RouteDel(&r))
		}
	}
	return errors.Join(errs...)
}

// RemoveAll deletes the VXLAN device (its neighbours, forwarding entries and routes go with it) and any
// host-gw routes: what a node leaving the overlay or a test cleans up.
func RemoveAll(device string) error {
	var errs []error
	if link, err := netlink.LinkByName(device); err == nil {
		errs = append(errs, netlink.LinkDel(link))
	}
	errs = append(errs, pruneRoutes(0, nil))
	return errors.Join(errs...)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
