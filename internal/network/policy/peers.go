package policy

import (
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// memoPeers keeps what a list of peers selects: policies often repeat the same peers.
type memoPeers struct {
	ps    peerSet
	addrs AddrSet
	any   bool
}

// peers compiles a rule's peers and returns the addresses they select (any: no peers, everything).
func (b *builder) peers(ns string, peers []networkingv1.NetworkPolicyPeer) (peerSet, AddrSet, bool) {
	var key strings.Builder
	key.WriteString(ns)
	for i := range peers {
		key.WriteByte(0)
		key.WriteString(peers[i].String())
	}
	if m, ok := b.memo[key.String()]; ok {
		return m.ps, m.addrs, m.any
	}
	ps := compilePeers(ns, peers)
	addrs, any := b.addrs(ps)
	b.memo[key.String()] = memoPeers{ps, addrs, any}
	return ps, addrs, any
}

// peerSet is a rule's peers with their selectors parsed once.
type peerSet struct {
	any    bool    // no peers: everything
	blocks AddrSet // the ipBlocks less their exceptions
	sels   []peerSelector
}

// peerSelector chooses pods: in the policy's namespace (nsSel nil) or in the namespaces nsSel matches;
// those podSel matches (nil: all).
type peerSelector struct {
	ns            string
	nsSel, podSel labels.Selector
}

func compilePeers(ns string, peers []networkingv1.NetworkPolicyPeer) peerSet {
	ps := peerSet{any: len(peers) == 0}
	var blocks []AddrSet
	for _, peer := range peers {
		if peer.IPBlock != nil {
			blocks = append(blocks, ipBlock(peer.IPBlock))
			continue
		}
		s := peerSelector{ns: ns}
		var err error
		if peer.NamespaceSelector != nil {
			if s.nsSel, err = metav1.LabelSelectorAsSelector(peer.NamespaceSelector); err != nil {
				continue // validation refuses such selectors
			}
		}
		if peer.PodSelector != nil {
			if s.podSel, err = metav1.LabelSelectorAsSelector(peer.PodSelector); err != nil {
				continue
			}
		}
		ps.sels = append(ps.sels, s)
	}
	ps.blocks = Union(blocks...)
	return ps
}

func (s peerSelector) selectsNamespace(name string, nsLabels map[string]string) bool {
	if s.nsSel == nil {
		return name == s.ns
	}
	return s.nsSel.Matches(labels.Set(nsLabels))
}

func (s peerSelector) selects(ns string, nsLabels, podLabels map[string]string) bool {
	return s.selectsNamespace(ns, nsLabels) && (s.podSel == nil || s.podSel.Matches(labels.Set(podLabels)))
}

// addrs returns the addresses the peers select; any is true when there are no peers (everything).
func (b *builder) addrs(ps peerSet) (AddrSet, bool) {
	if ps.any {
		return nil, true
	}
	sets := []AddrSet{ps.blocks}
	for _, pod := range b.peerPods(ps) {
		sets = append(sets, single(pod.IP))
	}
	return Union(sets...), false
}

// peerPods returns the pods the peers' selectors choose (all pods when there are no peers), in a stable
// order; a pod two selectors choose comes twice.
func (b *builder) peerPods(ps peerSet) []Pod {
	if ps.any {
		return b.in.Pods
	}
	var out []Pod
	for _, s := range ps.sels {
		for _, ns := range b.nsNames {
			if !s.selectsNamespace(ns, b.in.Namespaces[ns]) {
				continue
			}
			for _, pod := range b.byNS[ns] {
				if s.podSel == nil || s.podSel.Matches(labels.Set(pod.Labels)) {
					out = append(out, pod)
				}
			}
		}
	}
	return out
}

func (b *builder) selectsDNS(ps peerSet) bool {
	dns := b.in.DNS
	if ps.any || ps.blocks.Contains(dns.ServiceIP) {
		return true
	}
	for _, s := range ps.sels {
		if s.selects(dns.Namespace, b.in.Namespaces[dns.Namespace], dns.Labels) {
			return true
		}
	}
	return false
}

// ipBlock returns the block's IPv4 addresses less its exceptions (IPv6 blocks are not enforced).
func ipBlock(b *networkingv1.IPBlock) AddrSet {
	p, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !p.Addr().Is4() {
		return nil
	}
	var except []Range
	for _, e := range b.Except {
		if ep, err := netip.ParsePrefix(e); err == nil && ep.Addr().Is4() {
			except = append(except, prefixRange(ep))
		}
	}
	return AddrSet{prefixRange(p)}.Minus(except)
}
