package proxy

import (
	"net/netip"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Service is one port of one Service, as the proxy routes it: a VIP (ClusterIP . Protocol . Port), an
// optional NodePort, and the endpoints chosen for it (already filtered: ready, or else serving+terminating).
type Service struct {
	// Name is "namespace/name:port" (the port's name, or its number when unnamed).
	Name      string
	ClusterIP netip.Addr
	Protocol  corev1.Protocol // TCP or UDP
	Port      int32
	NodePort  int32 // 0: none
	// AffinitySeconds > 0 is sessionAffinity ClientIP with that timeout.
	AffinitySeconds int32
	Endpoints       []netip.AddrPort // sorted, unique
	// ExternalLocal is externalTrafficPolicy Local: NodePort traffic from outside the pod network goes only
	// to LocalEndpoints (the Endpoints on this node), unmasqueraded, and is dropped when there is none.
	ExternalLocal  bool
	LocalEndpoints []netip.AddrPort
}

// Build turns Services and their EndpointSlices (grouped by namespace/service name) into the proxy's
// Services, sorted by Name. Services without an IPv4 ClusterIP (headless, ExternalName, IPv6) and
// protocols other than TCP and UDP are skipped.
func Build(nodeName string, services []*corev1.Service, slices map[string][]*discoveryv1.EndpointSlice) []Service {
	var out []Service
	for _, svc := range services {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !ip.Is4() {
			continue
		}
		affinity := int32(0)
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = 10800
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				affinity = *c.ClientIP.TimeoutSeconds
			}
		}
		key := svc.Namespace + "/" + svc.Name
		for _, p := range svc.Spec.Ports {
			if p.Protocol != corev1.ProtocolTCP && p.Protocol != corev1.ProtocolUDP && p.Protocol != "" {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			portName := p.Name
			if portName == "" {
				portName = strconv.Itoa(int(p.Port))
			}
			eps, local := endpointsFor(slices[key], p.Name, proto, nodeName)
			s := Service{Name: key + ":" + portName, ClusterIP: ip, Protocol: proto, Port: p.Port, AffinitySeconds: affinity,
				Endpoints: eps}
			if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				s.NodePort = p.NodePort
				if s.NodePort != 0 && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
					s.ExternalLocal, s.LocalEndpoints = true, local
				}
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// endpointsFor picks a Service port's endpoints from its slices, as upstream: the ready ones; when there
// is none, the serving and terminating ones (so connections drain to pods still able to answer). local is
// the subset on nodeName.
func endpointsFor(slices []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol, nodeName string) (all, local []netip.AddrPort) {
	ready, fallback := map[netip.AddrPort]bool{}, map[netip.AddrPort]bool{}
	onNode := map[netip.AddrPort]bool{}
	for _, es := range slices {
		if es.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		port := int32(-1)
		for _, p := range es.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			pr := corev1.ProtocolTCP
			if p.Protocol != nil {
				pr = *p.Protocol
			}
			if name == portName && pr == proto && p.Port != nil {
				port = *p.Port
			}
		}
		if port <= 0 || port > 65535 {
			continue
		}
		for _, ep := range es.Endpoints {
			c := ep.Conditions
			isReady := c.Ready == nil || *c.Ready
			serving := c.Serving == nil && isReady || c.Serving != nil && *c.Serving
			terminating := c.Terminating != nil && *c.Terminating
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					continue
				}
				ap := netip.AddrPortFrom(ip, uint16(port))
				if ep.NodeName != nil && *ep.NodeName == nodeName {
					onNode[ap] = true
				}
				switch {
				case isReady:
					ready[ap] = true
				case serving && terminating:
					fallback[ap] = true
				}
			}
		}
	}
	chosen := ready
	if len(chosen) == 0 {
		chosen = fallback
	}
	for ap := range chosen {
		all = append(all, ap)
		if onNode[ap] {
			local = append(local, ap)
		}
	}
	sortAddrPorts(all)
	sortAddrPorts(local)
	return all, local
}

func sortAddrPorts(s []netip.AddrPort) {
	sort.Slice(s, func(i, j int) bool { return s[i].Compare(s[j]) < 0 })
}
