package dns

import (
	"net"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// DNSSchemaVersion is the version of the Kubernetes DNS specification served (dns-version.<zone> TXT).
const DNSSchemaVersion = "1.1.0"

// records returns the records at name (lower case, fully qualified, inside the zone), the additional records
// for SRV targets, and whether the name exists at all (false: NXDOMAIN). The SRV records of a service name are
// only built when qtype asks for them (SRV or ANY); every other record at the name is returned.
func (s *Server) records(name string, qtype uint16) (rrs, extra []mdns.RR, exists bool) {
	rel := strings.TrimSuffix(strings.TrimSuffix(name, s.zone), ".")
	if rel == "" {
		return []mdns.RR{s.soa()}, nil, true
	}
	labels := strings.Split(rel, ".")
	n := len(labels)
	switch {
	case rel == "dns-version":
		return []mdns.RR{&mdns.TXT{Hdr: s.hdr(name, mdns.TypeTXT), Txt: []string{DNSSchemaVersion}}}, nil, true
	case labels[n-1] == "svc":
		return s.serviceRecords(name, labels[:n-1], qtype)
	case labels[n-1] == "pod":
		return s.podRecords(name, labels[:n-1])
	}
	return nil, nil, false
}

// serviceRecords answers names under svc.<zone>; labels are the labels before "svc".
func (s *Server) serviceRecords(name string, labels []string, qtype uint16) (rrs, extra []mdns.RR, exists bool) {
	n := len(labels)
	switch n {
	case 0: // svc.<zone>: an empty non-terminal
		return nil, nil, true
	case 1: // <ns>.svc.<zone>: exists when the namespace has services
		objs, _ := s.services.ByIndex(cache.NamespaceIndex, labels[0])
		return nil, nil, len(objs) > 0
	case 2, 3, 4:
	default:
		return nil, nil, false
	}
	svc := s.service(labels[n-1], labels[n-2])
	if svc == nil {
		return nil, nil, false
	}
	svcName := labels[n-2] + "." + labels[n-1] + ".svc." + s.zone
	switch n {
	case 2:
		return s.serviceNameRecords(name, svcName, svc, qtype)
	case 3: // <host>.<svc>.<ns>.svc, or _<proto>.<svc>.<ns>.svc (an empty non-terminal of SRV names)
		if strings.HasPrefix(labels[0], "_") {
			if !isProto(labels[0]) || svc.Spec.Type == corev1.ServiceTypeExternalName {
				return nil, nil, false
			}
			proto := strings.ToUpper(labels[0][1:])
			srv, _ := s.srv(name, svcName, svc, func(pname string, p corev1.Protocol) bool { return pname != "" && string(p) == proto })
			return nil, nil, len(srv) > 0
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			return nil, nil, false
		}
		for _, ep := range s.endpoints(svc) {
			if ep.host == labels[0] {
				rrs = append(rrs, s.addr(name, ep.ip))
			}
		}
		return rrs, nil, len(rrs) > 0
	default: // _<port>._<proto>.<svc>.<ns>.svc
		if !strings.HasPrefix(labels[0], "_") || !isProto(labels[1]) || svc.Spec.Type == corev1.ServiceTypeExternalName {
			return nil, nil, false
		}
		port, proto := labels[0][1:], strings.ToUpper(labels[1][1:])
		rrs, extra = s.srv(name, svcName, svc, func(pname string, pproto corev1.Protocol) bool {
			return strings.ToLower(pname) == port && string(pproto) == proto
		})
		return rrs, extra, len(rrs) > 0
	}
}

func isProto(label string) bool { return label == "_tcp" || label == "_udp" || label == "_sctp" }

// serviceNameRecords are the records of <svc>.<ns>.svc.<zone>.
func (s *Server) serviceNameRecords(name, svcName string, svc *corev1.Service, qtype uint16) (rrs, extra []mdns.RR, exists bool) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if svc.Spec.ExternalName == "" {
			return nil, nil, true
		}
		return []mdns.RR{&mdns.CNAME{Hdr: s.hdr(name, mdns.TypeCNAME), Target: mdns.Fqdn(svc.Spec.ExternalName)}}, nil, true
	}
	if headless(svc) {
		seen := map[string]bool{}
		for _, ep := range s.endpoints(svc) {
			if !seen[ep.ip.String()] {
				seen[ep.ip.String()] = true
				rrs = append(rrs, s.addr(name, ep.ip))
			}
		}
		if len(rrs) == 0 {
			// The specification (and CoreDNS): a headless Service without ready endpoints is NXDOMAIN.
			return nil, nil, false
		}
	} else {
		for _, ip := range clusterIPs(svc) {
			rrs = append(rrs, s.addr(name, ip))
		}
	}
	if qtype != mdns.TypeSRV && qtype != mdns.TypeANY {
		return rrs, nil, true
	}
	srv, extra := s.srv(name, svcName, svc, func(string, corev1.Protocol) bool { return true })
	return append(rrs, srv...), extra, true
}

// srv lists the SRV records of the service's ports that match: one per port targeting the service name, or for a
// headless service one per endpoint and port, targeting the endpoint's name.
func (s *Server) srv(name, svcName string, svc *corev1.Service, match func(string, corev1.Protocol) bool) (rrs, extra []mdns.RR) {
	if !headless(svc) {
		ips := clusterIPs(svc)
		for _, p := range svc.Spec.Ports {
			if match(p.Name, protocol(p.Protocol)) {
				rrs = append(rrs, &mdns.SRV{Hdr: s.hdr(name, mdns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: svcName})
			}
		}
		if len(rrs) > 0 {
			for _, ip := range ips {
				extra = append(extra, s.addr(svcName, ip))
			}
		}
		return rrs, extra
	}
	targets := map[string]bool{}
	for _, ep := range s.endpoints(svc) {
		target := ep.host + "." + svcName
		for _, p := range ep.ports {
			if p.Port == nil || !match(ptrString(p.Name), protocol(ptrProto(p.Protocol))) {
				continue
			}
			rrs = append(rrs, &mdns.SRV{Hdr: s.hdr(name, mdns.TypeSRV), Priority: 0, Port: uint16(*p.Port), Target: target})
			if !targets[target+ep.ip.String()] {
				targets[target+ep.ip.String()] = true
				extra = append(extra, s.addr(target, ep.ip))
			}
		}
	}
	for _, rr := range rrs { // equal shares of 100, as CoreDNS
		rr.(*mdns.SRV).Weight = uint16(max(1, 100/len(rrs)))
	}
	return rrs, extra
}

// podRecords answers <a-b-c-d>.<ns>.pod.<zone> with the dashed IP, without looking the pod up ("pods insecure").
func (s *Server) podRecords(name string, labels []string) (rrs, extra []mdns.RR, exists bool) {
	switch len(labels) {
	case 0, 1: // pod.<zone>, <ns>.pod.<zone>
		return nil, nil, true
	case 2:
		ip := undash(labels[0])
		if ip == nil {
			return nil, nil, false
		}
		return []mdns.RR{s.addr(name, ip)}, nil, true
	}
	return nil, nil, false
}

func undash(label string) net.IP {
	if ip := net.ParseIP(strings.ReplaceAll(label, "-", ".")); ip != nil && ip.To4() != nil && strings.Count(label, "-") == 3 {
		return ip
	}
	if ip := net.ParseIP(strings.ReplaceAll(label, "-", ":")); ip != nil && ip.To4() == nil {
		return ip
	}
	return nil
}

func dashed(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return strings.ReplaceAll(v4.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.String(), ":", "-")
}

// addr is an A or AAAA record.
func (s *Server) addr(name string, ip net.IP) mdns.RR {
	if v4 := ip.To4(); v4 != nil {
		return &mdns.A{Hdr: s.hdr(name, mdns.TypeA), A: v4}
	}
	return &mdns.AAAA{Hdr: s.hdr(name, mdns.TypeAAAA), AAAA: ip}
}

func (s *Server) service(ns, name string) *corev1.Service {
	obj, ok, _ := s.services.GetByKey(ns + "/" + name)
	if !ok {
		return nil
	}
	return obj.(*corev1.Service)
}

func headless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

func clusterIPs(svc *corev1.Service) []net.IP {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || headless(svc) {
		return nil
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []net.IP
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptrProto(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return ""
	}
	return *p
}

type endpoint struct {
	ip    net.IP
	host  string // the endpoint's hostname, or its dashed IP
	ports []discoveryv1.EndpointPort
}

// endpoints lists the service's served endpoint addresses: the ready ones (a missing condition counts as
// ready), or all with publishNotReadyAddresses.
func (s *Server) endpoints(svc *corev1.Service) []endpoint {
	objs, _ := s.slices.ByIndex(indexService, svc.Namespace+"/"+svc.Name)
	var out []endpoint
	for _, o := range objs {
		es := o.(*discoveryv1.EndpointSlice)
		if es.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range ep.Addresses {
				ip := net.ParseIP(a)
				if ip == nil {
					continue
				}
				host := dashed(ip)
				if ep.Hostname != nil && *ep.Hostname != "" {
					host = strings.ToLower(*ep.Hostname)
				}
				out = append(out, endpoint{ip: ip, host: host, ports: es.Ports})
			}
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return strings.Compare(a.ip.String(), b.ip.String()) })
	return out
}

// reverse answers a PTR name (lower case) for a ClusterIP or a headless service's endpoint IP; "" when the
// address is not the cluster's.
func (s *Server) reverse(name string) string {
	ip := fromReverse(name)
	if ip == nil {
		return ""
	}
	key := ip.String()
	if objs, _ := s.services.ByIndex(indexIP, key); len(objs) > 0 {
		svc := objs[0].(*corev1.Service)
		return svc.Name + "." + svc.Namespace + ".svc." + s.zone
	}
	objs, _ := s.slices.ByIndex(indexIP, key)
	for _, o := range objs {
		es := o.(*discoveryv1.EndpointSlice)
		svc := s.service(es.Namespace, es.Labels[discoveryv1.LabelServiceName])
		if svc == nil || !headless(svc) {
			continue
		}
		for _, ep := range s.endpoints(svc) {
			if ep.ip.Equal(ip) {
				return ep.host + "." + svc.Name + "." + svc.Namespace + ".svc." + s.zone
			}
		}
	}
	return ""
}

// fromReverse parses <d.c.b.a>.in-addr.arpa. and the 32-nibble ip6.arpa. names.
func fromReverse(name string) net.IP {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return nil
		}
		slices.Reverse(parts)
		return net.ParseIP(strings.Join(parts, ".")).To4()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 32 {
			return nil
		}
		slices.Reverse(parts)
		var b strings.Builder
		for i, p := range parts {
			if len(p) != 1 {
				return nil
			}
			if i > 0 && i%4 == 0 {
				b.WriteByte(':')
			}
			b.WriteString(p)
		}
		return net.ParseIP(b.String())
	}
	return nil
}
