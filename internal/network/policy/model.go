package policy

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is what the model needs of a pod: its identity for selectors, its IP and its named ports.
type Pod struct {
	Namespace, Name string
	Labels          map[string]string
	IP              netip.Addr
	// Local pods run on this node: policies are enforced for them here.
	Local bool
	Ports []corev1.ContainerPort
}

// DNS is the cluster DNS server of this node. Pods reach it through the kube-dns Service, which the proxy
// DNATs to Endpoint on the node itself. Policies see it as upstream clusters see CoreDNS: a pod in
// Namespace with Labels serving port 53 (named "dns" for UDP, "dns-tcp" for TCP), and, for ipBlocks, the
// Service IP.
type DNS struct {
	ServiceIP netip.Addr
	Endpoint  netip.AddrPort
	Namespace string
	Labels    map[string]string
}

// Input is everything the model is built from.
type Input struct {
	Policies []*networkingv1.NetworkPolicy
	Pods     []Pod
	// Namespaces holds each namespace's labels, by name.
	Namespaces map[string]map[string]string
	// DNS is nil when this node serves no cluster DNS to pods.
	DNS *DNS
}

// Model says, for each local pod that some policy isolates, what it may receive and send.
type Model struct {
	// Ingress and Egress hold the pods isolated in that direction, sorted by IP.
	Ingress, Egress []Target
	// DNS is the cluster DNS endpoint on this node (invalid: none). Traffic from pods to the node is always
	// allowed except to this address, which egress rules govern like a pod.
	DNS netip.AddrPort
}

// Target is an isolated pod and the union of the rules that allow its traffic; no rules: deny all.
type Target struct {
	Pod   string // namespace/name
	IP    netip.Addr
	Rules []Rule
}

// Rule allows traffic with a peer (the source for ingress, the destination for egress) in Peers, to a
// port in Ports (destination ports, both directions).
type Rule struct {
	AnyPeer bool
	Peers   AddrSet
	AnyPort bool
	Ports   []Port
}

// Port is a protocol with a destination port range; From 0 means every port of the protocol.
type Port struct {
	Protocol corev1.Protocol
	From, To int32
}

// Build computes the model. It is pure: the same input gives the same model.
func Build(in Input) Model {
	b := builder{in: in, ingress: map[netip.Addr]*Target{}, egress: map[netip.Addr]*Target{}, byNS: map[string][]Pod{}, memo: map[string]memoPeers{}}
	for _, p := range in.Pods {
		if b.byNS[p.Namespace] == nil {
			b.nsNames = append(b.nsNames, p.Namespace)
		}
		b.byNS[p.Namespace] = append(b.byNS[p.Namespace], p)
	}
	slices.Sort(b.nsNames)
	pols := slices.Clone(in.Policies)
	slices.SortFunc(pols, func(a, b *networkingv1.NetworkPolicy) int {
		if a.Namespace != b.Namespace {
			return strings.Compare(a.Namespace, b.Namespace)
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, p := range pols {
		b.policy(p)
	}
	m := Model{Ingress: sorted(b.ingress), Egress: sorted(b.egress)}
	if in.DNS != nil {
		m.DNS = in.DNS.Endpoint
	}
	return m
}

type builder struct {
	in              Input
	ingress, egress map[netip.Addr]*Target
	byNS            map[string][]Pod // pods by namespace
	nsNames         []string         // byNS's keys, sorted
	memo            map[string]memoPeers
}

func (b *builder) policy(p *networkingv1.NetworkPolicy) {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		return // validation refuses such selectors
	}
	var targets []Pod
	for _, pod := range b.byNS[p.Namespace] {
		if pod.Local && sel.Matches(labels.Set(pod.Labels)) {
			targets = append(targets, pod)
		}
	}
	if len(targets) == 0 {
		return
	}
	ingress, egress := policyTypes(p)
	if egress {
		// Egress rules do not depend on the target: named ports resolve on the destination pods.
		var rules []Rule
		for _, r := range p.Spec.Egress {
			rules = append(rules, b.egressRule(p.Namespace, r)...)
		}
		for _, t := range targets {
			target(b.egress, t).Rules = append(target(b.egress, t).Rules, rules...)
		}
	}
	if ingress {
		for _, r := range p.Spec.Ingress {
			_, peers, any := b.peers(p.Namespace, r.From)
			for _, t := range targets {
				tg := target(b.ingress, t)
				ports, anyPort := resolvePorts(r.Ports, t.Ports)
				if rule, ok := newRule(any, peers, anyPort, ports); ok {
					tg.Rules = append(tg.Rules, rule)
				}
			}
		}
		for _, t := range targets {
			target(b.ingress, t) // isolated even without rules
		}
	}
}

// policyTypes applies upstream's default: Ingress always, Egress when there are egress rules.
func policyTypes(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

func (b *builder) egressRule(ns string, r networkingv1.NetworkPolicyEgressRule) []Rule {
	ps, peers, any := b.peers(ns, r.To)
	var out []Rule
	// Numeric ports (and protocol-only entries) apply to every peer.
	var numeric []networkingv1.NetworkPolicyPort
	var named []networkingv1.NetworkPolicyPort
	for _, p := range r.Ports {
		if p.Port != nil && p.Port.Type == intstr.String {
			named = append(named, p)
		} else {
			numeric = append(numeric, p)
		}
	}
	if len(r.Ports) == 0 || len(numeric) > 0 {
		ports, anyPort := resolvePorts(numeric, nil)
		if rule, ok := newRule(any, peers, anyPort, ports); ok {
			out = append(out, rule)
		}
	}
	// A named port means whatever each destination pod calls by that name: one rule per resolved port.
	if len(named) > 0 {
		byPort := map[Port]AddrSet{}
		var order []Port
		for _, pod := range b.peerPods(ps) {
			ports, _ := resolvePorts(named, pod.Ports)
			for _, pt := range ports {
				if _, seen := byPort[pt]; !seen {
					order = append(order, pt)
				}
				byPort[pt] = append(byPort[pt], single(pod.IP)...)
			}
		}
		for _, pt := range order {
			out = append(out, Rule{Peers: Union(byPort[pt]), Ports: []Port{pt}})
		}
	}
	if dns := b.in.DNS; dns != nil && b.selectsDNS(ps) {
		// The DNS server is reached on its real port after the proxy's DNAT; the policy names the Service's.
		var ports []Port
		for _, pr := range []struct {
			proto corev1.Protocol
			name  string
		}{{corev1.ProtocolUDP, "dns"}, {corev1.ProtocolTCP, "dns-tcp"}} {
			if allowsPort(r.Ports, pr.proto, 53, pr.name) {
				ports = append(ports, Port{pr.proto, int32(dns.Endpoint.Port()), int32(dns.Endpoint.Port())})
			}
		}
		if len(ports) > 0 {
			out = append(out, Rule{Peers: single(dns.Endpoint.Addr()), Ports: ports})
		}
	}
	return out
}

func newRule(anyPeer bool, peers AddrSet, anyPort bool, ports []Port) (Rule, bool) {
	if !anyPeer && len(peers) == 0 || !anyPort && len(ports) == 0 {
		return Rule{}, false // matches nothing
	}
	return Rule{AnyPeer: anyPeer, Peers: peers, AnyPort: anyPort, Ports: ports}, true
}

func target(m map[netip.Addr]*Target, p Pod) *Target {
	t := m[p.IP]
	if t == nil {
		t = &Target{Pod: p.Namespace + "/" + p.Name, IP: p.IP}
		m[p.IP] = t
	}
	return t
}

func sorted(m map[netip.Addr]*Target) []Target {
	out := make([]Target, 0, len(m))
	for _, t := range m {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Target) int { return a.IP.Compare(b.IP) })
	return out
}
