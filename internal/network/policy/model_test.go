package policy

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Fixtures: namespaces "default" (team=a) and "other" (team=b); pods by IP.
var (
	web      = Pod{Namespace: "default", Name: "web", IP: ip("10.42.0.2"), Local: true, Labels: map[string]string{"app": "web"}, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	web2     = Pod{Namespace: "default", Name: "web2", IP: ip("10.42.0.3"), Local: true, Labels: map[string]string{"app": "web"}, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9090}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}
	client   = Pod{Namespace: "default", Name: "client", IP: ip("10.42.0.4"), Local: true, Labels: map[string]string{"role": "client"}}
	other    = Pod{Namespace: "default", Name: "other", IP: ip("10.42.0.5"), Local: true, Labels: map[string]string{"role": "other"}}
	remote   = Pod{Namespace: "default", Name: "remote", IP: ip("10.42.1.2"), Labels: map[string]string{"app": "web", "role": "client"}}
	foreign  = Pod{Namespace: "other", Name: "client", IP: ip("10.42.0.6"), Local: true, Labels: map[string]string{"role": "client"}}
	allPods  = []Pod{web, web2, client, other, remote, foreign}
	nsLabels = map[string]map[string]string{
		"default":     {"team": "a", corev1.LabelMetadataName: "default"},
		"other":       {"team": "b", corev1.LabelMetadataName: "other"},
		"kube-system": {corev1.LabelMetadataName: "kube-system"},
	}
	dns = &DNS{ServiceIP: ip("10.43.0.10"), Endpoint: netip.MustParseAddrPort("10.42.0.1:10053"), Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}}
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func sel(kv ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.MatchLabels[kv[i]] = kv[i+1]
	}
	return s
}

func np(name string, podSel *metav1.LabelSelector, spec func(*networkingv1.NetworkPolicySpec)) *networkingv1.NetworkPolicy {
	p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *podSel}}
	if spec != nil {
		spec(&p.Spec)
	}
	return p
}

func tcp(port int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(port))}
}

func named(name string) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromString(name))}
}

func from(peers ...networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyIngressRule {
	return []networkingv1.NetworkPolicyIngressRule{{From: peers}}
}

// flow is one connection attempt: the pod the policy guards, the other end, and the destination port.
type flow struct {
	pod   Pod
	peer  string
	proto corev1.Protocol
	port  int32
}

// allows evaluates the model as the ruleset does: isolated says whether the pod is a target at all.
func allows(ts []Target, f flow) (isolated, ok bool) {
	proto := f.proto
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, t := range ts {
		if t.IP != f.pod.IP {
			continue
		}
		for _, r := range t.Rules {
			if !r.AnyPeer && !r.Peers.Contains(ip(f.peer)) {
				continue
			}
			if r.AnyPort {
				return true, true
			}
			for _, p := range r.Ports {
				if p.Protocol == proto && (p.From == 0 || p.From <= f.port && f.port <= p.To) {
					return true, true
				}
			}
		}
		return true, false
	}
	return false, true
}

func TestBuild(t *testing.T) {
	type want struct {
		f       flow
		egress  bool
		allowed bool
	}
	in := func(f flow) want { return want{f: f, allowed: true} }
	inDenied := func(f flow) want { return want{f: f} }
	out := func(f flow) want { return want{f: f, egress: true, allowed: true} }
	outDenied := func(f flow) want { return want{f: f, egress: true} }
	for _, tc := range []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		isolated map[string][]string // direction → pods isolated (nil: not checked)
		flows    []want
	}{
		{name: "no policy: nothing isolated", isolated: map[string][]string{"ingress": nil, "egress": nil},
			flows: []want{in(flow{web, "10.42.0.4", "", 80}), out(flow{web, "1.1.1.1", "", 443})}},
		{name: "default deny ingress isolates this node's pods of the namespace only",
			policies: []*networkingv1.NetworkPolicy{np("deny", sel(), nil)},
			isolated: map[string][]string{"ingress": {"default/web", "default/web2", "default/client", "default/other"}, "egress": nil},
			flows:    []want{inDenied(flow{web, "10.42.0.4", "", 8080}), in(flow{foreign, "10.42.0.4", "", 80}), out(flow{web, "10.42.0.6", "", 80})}},
		{name: "allow by pod label opens exactly that path",
			policies: []*networkingv1.NetworkPolicy{np("allow", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress = from(networkingv1.NetworkPolicyPeer{PodSelector: sel("role", "client")})
			})},
			isolated: map[string][]string{"ingress": {"default/web", "default/web2"}},
			flows: []want{in(flow{web, "10.42.0.4", "", 8080}), in(flow{web, "10.42.1.2", "UDP", 53}),
				inDenied(flow{web, "10.42.0.5", "", 8080}), inDenied(flow{web, "10.42.0.6", "", 8080}), in(flow{client, "10.42.0.5", "", 80})}},
		{name: "namespaceSelector alone: every pod of those namespaces",
			policies: []*networkingv1.NetworkPolicy{np("ns", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress = from(networkingv1.NetworkPolicyPeer{NamespaceSelector: sel("team", "b")})
			})},
			flows: []want{in(flow{web, "10.42.0.6", "", 80}), inDenied(flow{web, "10.42.0.4", "", 80})}},
		{name: "namespaceSelector and podSelector together: both must match",
			policies: []*networkingv1.NetworkPolicy{np("both", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress = from(networkingv1.NetworkPolicyPeer{NamespaceSelector: sel(), PodSelector: sel("role", "client")})
			})},
			flows: []want{in(flow{web, "10.42.0.6", "", 80}), in(flow{web, "10.42.0.4", "", 80}), inDenied(flow{web, "10.42.0.5", "", 80})}},
		{name: "ipBlock with except",
			policies: []*networkingv1.NetworkPolicy{np("cidr", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress = from(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.42.0.0/24", Except: []string{"10.42.0.5/32"}}})
			})},
			flows: []want{in(flow{web, "10.42.0.4", "", 80}), in(flow{web, "10.42.0.200", "", 80}), inDenied(flow{web, "10.42.0.5", "", 80}), inDenied(flow{web, "10.42.1.2", "", 80})}},
		{name: "ports: numeric, endPort, protocols, named per target pod",
			policies: []*networkingv1.NetworkPolicy{np("ports", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
					tcp(80), named("http"),
					{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(5000)), EndPort: ptr.To(int32(5010))},
					{Protocol: ptr.To(corev1.ProtocolSCTP)},
				}}}
			})},
			flows: []want{
				in(flow{web, "10.42.0.5", "", 80}), in(flow{web, "10.42.0.5", "", 8080}), inDenied(flow{web, "10.42.0.5", "", 9090}),
				in(flow{web2, "10.42.0.5", "", 9090}), inDenied(flow{web2, "10.42.0.5", "", 8080}),
				in(flow{web, "10.42.0.5", "UDP", 5010}), inDenied(flow{web, "10.42.0.5", "UDP", 5011}), inDenied(flow{web, "10.42.0.5", "UDP", 80}),
				in(flow{web, "10.42.0.5", "SCTP", 7}),
			}},
		{name: "named port no target has: nothing allowed",
			policies: []*networkingv1.NetworkPolicy{np("noport", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{named("grpc")}}}
			})},
			isolated: map[string][]string{"ingress": {"default/web", "default/web2"}},
			flows:    []want{inDenied(flow{web, "10.42.0.5", "", 8080})}},
		{name: "policies are additive",
			policies: []*networkingv1.NetworkPolicy{
				np("a", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
					s.Ingress = from(networkingv1.NetworkPolicyPeer{PodSelector: sel("role", "client")})
				}),
				np("b", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
					s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "other")}}, Ports: []networkingv1.NetworkPolicyPort{tcp(80)}}}
				}),
				np("deny", sel(), nil),
			},
			flows: []want{in(flow{web, "10.42.0.4", "", 1234}), in(flow{web, "10.42.0.5", "", 80}), inDenied(flow{web, "10.42.0.5", "", 81}),
				inDenied(flow{client, "10.42.0.2", "", 80})}},
		{name: "policyTypes default: Egress when egress rules exist",
			policies: []*networkingv1.NetworkPolicy{np("eg", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "web")}}}}
			})},
			isolated: map[string][]string{"ingress": {"default/client"}, "egress": {"default/client"}},
			flows:    []want{out(flow{client, "10.42.0.2", "", 80}), out(flow{client, "10.42.1.2", "", 80}), outDenied(flow{client, "10.42.0.5", "", 80}), inDenied(flow{client, "10.42.0.2", "", 80})}},
		{name: "policyTypes Egress only: ingress stays open, no rules deny all egress",
			policies: []*networkingv1.NetworkPolicy{np("eg", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
				s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			})},
			isolated: map[string][]string{"ingress": nil, "egress": {"default/client"}},
			flows:    []want{outDenied(flow{client, "10.42.0.2", "", 80}), outDenied(flow{client, "10.42.0.1", "UDP", 10053}), in(flow{client, "10.42.0.2", "", 80})}},
		{name: "egress named port resolves on each destination pod",
			policies: []*networkingv1.NetworkPolicy{np("eg", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{named("http")}}}
			})},
			flows: []want{out(flow{client, "10.42.0.2", "", 8080}), outDenied(flow{client, "10.42.0.2", "", 9090}), out(flow{client, "10.42.0.3", "", 9090}),
				outDenied(flow{client, "1.1.1.1", "", 8080})}},
		{name: "egress named port never matches an ipBlock",
			policies: []*networkingv1.NetworkPolicy{np("eg", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}}, Ports: []networkingv1.NetworkPolicyPort{named("http")}}}
			})},
			flows: []want{outDenied(flow{client, "10.42.0.2", "", 8080}), outDenied(flow{client, "10.1.2.3", "", 8080})}},
		{name: "empty namespaceSelector: every pod of every namespace",
			policies: []*networkingv1.NetworkPolicy{np("all-ns", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress = from(networkingv1.NetworkPolicyPeer{NamespaceSelector: sel()})
			})},
			flows: []want{in(flow{web, "10.42.0.6", "", 80}), in(flow{web, "10.42.1.2", "", 80}), inDenied(flow{web, "1.1.1.1", "", 80})}},
		{name: "egress ipBlock",
			policies: []*networkingv1.NetworkPolicy{np("eg", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
				s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}}}, Ports: []networkingv1.NetworkPolicyPort{tcp(443)}}}
			})},
			flows: []want{out(flow{client, "1.1.1.1", "", 443}), outDenied(flow{client, "1.1.1.1", "", 80}), outDenied(flow{client, "10.42.0.2", "", 443})}},
		{name: "DNS: allowed to kube-dns pods on 53/UDP lands on the server's UDP port only",
			policies: []*networkingv1.NetworkPolicy{np("dns", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
				s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{
					To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel(corev1.LabelMetadataName, "kube-system"), PodSelector: sel("k8s-app", "kube-dns")}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))}}}}
			})},
			flows: []want{out(flow{client, "10.42.0.1", "UDP", 10053}), outDenied(flow{client, "10.42.0.1", "TCP", 10053}), outDenied(flow{client, "10.42.0.2", "UDP", 53})}},
		{name: "DNS: by named ports and by the Service IP in an ipBlock",
			policies: []*networkingv1.NetworkPolicy{
				np("named", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
					s.Egress = []networkingv1.NetworkPolicyEgressRule{{
						To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel(), PodSelector: sel("k8s-app", "kube-dns")}},
						Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString("dns-tcp"))}}}}
				}),
				np("block", sel("role", "other"), func(s *networkingv1.NetworkPolicySpec) {
					s.Egress = []networkingv1.NetworkPolicyEgressRule{{
						To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.43.0.10/32"}}}}}
				}),
			},
			flows: []want{out(flow{client, "10.42.0.1", "TCP", 10053}), outDenied(flow{client, "10.42.0.1", "UDP", 10053}),
				out(flow{other, "10.42.0.1", "UDP", 10053}), out(flow{other, "10.42.0.1", "TCP", 10053}), outDenied(flow{other, "10.42.0.2", "TCP", 80})}},
		{name: "DNS: a selector that misses kube-system does not open it",
			policies: []*networkingv1.NetworkPolicy{np("eg", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("k8s-app", "kube-dns")}}}}
			})},
			flows: []want{outDenied(flow{client, "10.42.0.1", "UDP", 10053})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Build(Input{Policies: tc.policies, Pods: allPods, Namespaces: nsLabels, DNS: dns})
			for dir, want := range tc.isolated {
				ts := m.Ingress
				if dir == "egress" {
					ts = m.Egress
				}
				var got []string
				for _, tg := range ts {
					got = append(got, tg.Pod)
				}
				if !sameSet(got, want) {
					t.Errorf("%s isolated: got %v, want %v", dir, got, want)
				}
			}
			for _, w := range tc.flows {
				ts, dir := m.Ingress, "ingress"
				if w.egress {
					ts, dir = m.Egress, "egress"
				}
				if _, ok := allows(ts, w.f); ok != w.allowed {
					t.Errorf("%s %s/%s peer %s %s/%d: allowed=%v, want %v", dir, w.f.pod.Namespace, w.f.pod.Name, w.f.peer, w.f.proto, w.f.port, ok, w.allowed)
				}
			}
			if m.DNS != dns.Endpoint {
				t.Errorf("model DNS %v", m.DNS)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
