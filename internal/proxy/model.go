package proxy

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Service is one port of one Service, as the proxy routes it: a VIP (ClusterIP . Protocol . Port), an
// optional NodePort and load-balancer IPs, the traffic policies, and the endpoints chosen for each policy.
type Service struct {
	// Name is "namespace/name:port" (the port's name, or its number when unnamed).
	Name      string
	ClusterIP netip.Addr
	Protocol  corev1.Protocol // TCP or UDP
	Port      int32
	NodePort  int32 // 0: none
	// LoadBalancerIPs are status.loadBalancer.ingress IPs of a type=LoadBalancer Service (IPv4, not
	// ipMode Proxy, not loopback): traffic to IP:Port takes the external path, like a NodePort.
	LoadBalancerIPs []netip.Addr
	// AffinitySeconds > 0 is sessionAffinity ClientIP with that timeout.
	AffinitySeconds int32
	// Endpoints are the usable endpoints anywhere in the cluster (ready ones; when none is ready, the
	// serving and terminating ones): the endpoints of the Cluster traffic policy. Sorted, unique.
	Endpoints []netip.AddrPort
	// LocalEndpoints are the usable endpoints on this node, chosen on their own (ready ones on this node;
	// when none is, serving and terminating ones on this node): the endpoints of the Local policy.
	LocalEndpoints []netip.AddrPort
	// InternalLocal is internalTrafficPolicy Local: ClusterIP traffic goes only to LocalEndpoints and is
	// dropped when there is none.
	InternalLocal bool
	// ExternalLocal is externalTrafficPolicy Local: NodePort and load-balancer traffic from outside this
	// node goes only to LocalEndpoints, unmasqueraded, and is dropped when there is none. Pods and the host
	// itself still get the Cluster endpoints (upstream's short-circuit).
	ExternalLocal bool
}

// equal says whether two Service ports route alike (their Endpoints slices compared by value).
func (s *Service) equal(o *Service) bool {
	return s.Name == o.Name && s.ClusterIP == o.ClusterIP && s.Protocol == o.Protocol && s.Port == o.Port &&
		s.NodePort == o.NodePort && s.AffinitySeconds == o.AffinitySeconds && s.InternalLocal == o.InternalLocal &&
		s.ExternalLocal == o.ExternalLocal && slices.Equal(s.LoadBalancerIPs, o.LoadBalancerIPs) &&
		slices.Equal(s.Endpoints, o.Endpoints) && slices.Equal(s.LocalEndpoints, o.LocalEndpoints)
}

// External says whether the Service port takes outside traffic (a NodePort or load-balancer IPs).
func (s *Service) External() bool { return s.NodePort != 0 || len(s.LoadBalancerIPs) > 0 }

// usesCluster says whether some path goes to the Cluster-policy endpoints (the svc- chain).
func (s *Service) usesCluster() bool {
	return len(s.Endpoints) > 0 && (!s.InternalLocal || s.External())
}

// usesLocal says whether some path goes to the Local-policy endpoints (the local- chain).
func (s *Service) usesLocal() bool {
	return len(s.LocalEndpoints) > 0 && (s.InternalLocal || s.ExternalLocal && s.External())
}

// hasEndpoints: usable endpoints somewhere in the cluster. Without any, the Service's traffic is rejected.
func (s *Service) hasEndpoints() bool { return len(s.Endpoints) > 0 }

// hasInternal: ClusterIP traffic has somewhere to go (else: rejected without endpoints, dropped when
// only the Local policy lacks them).
func (s *Service) hasInternal() bool {
	if s.InternalLocal {
		return len(s.LocalEndpoints) > 0
	}
	return s.hasEndpoints()
}

// hasExternal: traffic from outside to a NodePort or load-balancer IP has somewhere to go.
func (s *Service) hasExternal() bool {
	if s.ExternalLocal {
		return len(s.LocalEndpoints) > 0
	}
	return s.hasEndpoints()
}

// Reachable returns the endpoints some path of this node's rules leads to (sorted, unique).
func (s *Service) Reachable() []netip.AddrPort {
	seen := map[netip.AddrPort]bool{}
	var out []netip.AddrPort
	add := func(eps []netip.AddrPort) {
		for _, ep := range eps {
			if !seen[ep] {
				seen[ep] = true
				out = append(out, ep)
			}
		}
	}
	if s.usesCluster() {
		add(s.Endpoints)
	}
	if s.usesLocal() {
		add(s.LocalEndpoints)
	}
	sortAddrPorts(out)
	return out
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
		external := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
		var lbIPs []netip.Addr
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			lbIPs = loadBalancerIPs(svc)
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
				Endpoints: eps, LocalEndpoints: local, LoadBalancerIPs: lbIPs,
				InternalLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
				ExternalLocal: external && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal}
			if external {
				s.NodePort = p.NodePort
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// loadBalancerIPs are the ingress IPs the proxy captures, as upstream: IPv4 ones whose ipMode is not
// Proxy (a load balancer that proxies sends traffic to the nodes, not to the IP). Loopback addresses are
// left out: DNAT of 127/8 would need route_localnet, which the proxy does not set (as for NodePorts).
func loadBalancerIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ing.IPMode != nil && *ing.IPMode == corev1.LoadBalancerIPModeProxy {
			continue
		}
		ip, err := netip.ParseAddr(ing.IP)
		if err != nil || !ip.Is4() || ip.IsLoopback() || seen[ip] {
			continue
		}
		seen[ip] = true
		out = append(out, ip)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// endpointsFor picks a Service port's endpoints from its slices, as upstream: the ready ones; when there
// is none, the serving and terminating ones (so connections drain to pods still able to answer). local
// makes the same choice among the endpoints on nodeName alone.
func endpointsFor(slices []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol, nodeName string) (all, local []netip.AddrPort) {
	ready, fallback := map[netip.AddrPort]bool{}, map[netip.AddrPort]bool{}
	localReady, localFallback := map[netip.AddrPort]bool{}, map[netip.AddrPort]bool{}
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
			onNode := ep.NodeName != nil && *ep.NodeName == nodeName
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					continue
				}
				ap := netip.AddrPortFrom(ip, uint16(port))
				switch {
				case isReady:
					ready[ap] = true
					if onNode {
						localReady[ap] = true
					}
				case serving && terminating:
					fallback[ap] = true
					if onNode {
						localFallback[ap] = true
					}
				}
			}
		}
	}
	return pick(ready, fallback), pick(localReady, localFallback)
}

// pick returns the first non-empty set, sorted.
func pick(first, second map[netip.AddrPort]bool) []netip.AddrPort {
	chosen := first
	if len(chosen) == 0 {
		chosen = second
	}
	var out []netip.AddrPort
	for ap := range chosen {
		out = append(out, ap)
	}
	sortAddrPorts(out)
	return out
}

func sortAddrPorts(s []netip.AddrPort) {
	sort.Slice(s, func(i, j int) bool { return s[i].Compare(s[j]) < 0 })
}
