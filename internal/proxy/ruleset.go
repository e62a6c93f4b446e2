package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Table is the default name of the nftables table the proxy owns (family ip).
const Table = "skiff-proxy"

// masqMark is the packet mark bit that asks nat-postrouting to masquerade (kube-proxy uses the same bit).
const masqMark = "0x4000"

// The table's maps: which chain (or verdict) a destination leads to.
const (
	mapServiceIPs          = "service-ips"           // ClusterIP and load-balancer IP . proto . port
	mapServiceNodePorts    = "service-nodeports"     // proto . NodePort
	mapNoEndpointServices  = "no-endpoint-services"  // IP . proto . port without endpoints: reject or drop
	mapNoEndpointNodePorts = "no-endpoint-nodeports" // proto . NodePort without endpoints: reject or drop
)

// tableMaps are the maps and their types, in declaration order.
var tableMaps = []struct{ name, typ string }{
	{mapServiceIPs, "ipv4_addr . inet_proto . inet_service : verdict"},
	{mapServiceNodePorts, "inet_proto . inet_service : verdict"},
	{mapNoEndpointServices, "ipv4_addr . inet_proto . inet_service : verdict"},
	{mapNoEndpointNodePorts, "inet_proto . inet_service : verdict"},
}

// hookChains are the base chains and their hooks. Their content depends on RenderConfig only.
var hookChains = []struct{ name, typ, hook, prio string }{
	{"nat-prerouting", "nat", "prerouting", "dstnat"},
	{"nat-output", "nat", "output", "-100"},
	{"nat-postrouting", "nat", "postrouting", "srcnat"},
	{"filter-input", "filter", "input", "-10"},
	{"filter-forward", "filter", "forward", "-10"},
	{"filter-output", "filter", "output", "-10"},
}

// RenderConfig is what the ruleset needs besides the Services.
type RenderConfig struct {
	// PodCIDR is the pods' network: traffic to a Service from outside it (the host, other machines) is
	// masqueraded so replies come back through this node. Invalid: all such traffic is masqueraded.
	PodCIDR netip.Prefix
}

// Ruleset is the table's content as data: what Compute derives from the Services, what a full sync
// writes and what an incremental sync diffs against the previous one.
type Ruleset struct {
	Chains map[string]Chain
	// Sets are the session-affinity sets by name, with their definition. A set's name covers its
	// definition (the timeout), so a changed definition is a new set.
	Sets map[string]string
	// Elems are the maps' elements: map name -> key -> verdict.
	Elems map[string]map[string]string
}

// Chain is one chain: Spec is its declaration body (hook and policy for base chains; a comment for the
// others), Rules its rules in order.
type Chain struct {
	Spec  string
	Rules []string
}

func (c Chain) equal(o Chain) bool {
	if len(c.Rules) != len(o.Rules) || c.Spec != o.Spec {
		return false
	}
	if len(c.Rules) > 0 && &c.Rules[0] == &o.Rules[0] {
		return true // the same rules, reused by a Computer: most chains of a sync
	}
	return slices.Equal(c.Rules, o.Rules)
}

// Compute derives the whole ruleset from the Services (pure). Semantics are upstream kube-proxy's
// nftables mode; see the package doc for the layout.
func Compute(cfg RenderConfig, services []Service) *Ruleset {
	return NewComputer(cfg).Compute(services)
}

// Computer computes rulesets like Compute, reusing the share of every Service port that did not change
// since its previous call (most syncs change a few Services out of many).
type Computer struct {
	cfg   RenderConfig
	cache map[string]computed
}

type computed struct {
	svc Service
	rs  *Ruleset
}

// NewComputer returns a Computer for cfg.
func NewComputer(cfg RenderConfig) *Computer {
	return &Computer{cfg: cfg, cache: map[string]computed{}}
}

// Compute returns the ruleset of services; the result is not modified later and may be kept.
func (c *Computer) Compute(services []Service) *Ruleset {
	rs := newRuleset()
	rs.base(c.cfg)
	next := make(map[string]computed, len(services))
	for i := range services {
		s := &services[i]
		part, ok := c.cache[s.Name]
		if !ok || !part.svc.equal(s) {
			part = computed{svc: *s, rs: newRuleset()}
			part.rs.service(c.cfg, s)
		}
		next[s.Name] = part
		rs.merge(part.rs)
	}
	c.cache = next
	return rs
}

func newRuleset() *Ruleset {
	rs := &Ruleset{Chains: map[string]Chain{}, Sets: map[string]string{}, Elems: map[string]map[string]string{}}
	for _, m := range tableMaps {
		rs.Elems[m.name] = map[string]string{}
	}
	return rs
}

func (rs *Ruleset) merge(o *Ruleset) {
	for k, v := range o.Chains {
		rs.Chains[k] = v
	}
	for k, v := range o.Sets {
		rs.Sets[k] = v
	}
	for m, elems := range o.Elems {
		for k, v := range elems {
			rs.Elems[m][k] = v
		}
	}
}

// base adds the chains every table has.
func (rs *Ruleset) base(cfg RenderConfig) {
	hook := func(name string, rules ...string) {
		for _, h := range hookChains {
			if h.name == name {
				rs.Chains[name] = Chain{Spec: fmt.Sprintf("type %s hook %s priority %s; policy accept;", h.typ, h.hook, h.prio), Rules: rules}
			}
		}
	}
	// DNAT happens at dstnat (prerouting, pods and outside) and at output (-100, the host itself); the
	// filter chains run after it, so only destinations left untranslated reach the no-endpoint verdicts.
	hook("nat-prerouting", "jump services")
	hook("nat-output", "jump services")
	hook("nat-postrouting", "meta mark & "+masqMark+" == 0 return", "meta mark set meta mark ^ "+masqMark, "masquerade fully-random")
	noEp := "ct state new ip daddr . meta l4proto . th dport vmap @" + mapNoEndpointServices
	hook("filter-input", noEp, "ct state new ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @"+mapNoEndpointNodePorts)
	hook("filter-forward", noEp)
	hook("filter-output", noEp)
	rs.Chains["services"] = Chain{Rules: []string{
		"ip daddr . meta l4proto . th dport vmap @" + mapServiceIPs,
		// NodePorts answer on every local address but loopback (127/8 would need route_localnet).
		"ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @" + mapServiceNodePorts,
	}}
	rs.Chains["mark-for-masquerade"] = Chain{Rules: []string{"meta mark set meta mark | " + masqMark}}
	rs.Chains["reject-chain"] = Chain{Rules: []string{"reject"}}
}

// service adds one Service port: map elements, its policy chains, external chain and endpoint chains.
func (rs *Ruleset) service(cfg RenderConfig, s *Service) {
	id := chainID(s.Name, string(s.Protocol))
	proto := strings.ToLower(string(s.Protocol))
	vip := func(ip netip.Addr) string { return fmt.Sprintf("%s . %s . %d", ip, proto, s.Port) }
	nodePort := fmt.Sprintf("%s . %d", proto, s.NodePort)
	clusterChain, localChain, extChain := "svc-"+id, "local-"+id, "ext-"+id

	// What a destination without a usable endpoint gets: a reject when the Service has none anywhere; a
	// drop when only the Local policy lacks them (upstream).
	internalNone, externalNone := "drop", "drop"
	if !s.hasEndpoints() {
		internalNone, externalNone = "goto reject-chain", "goto reject-chain"
	}
	internalChain := clusterChain
	if s.InternalLocal {
		internalChain = localChain
	}
	if s.hasInternal() {
		rs.Elems[mapServiceIPs][vip(s.ClusterIP)] = "goto " + internalChain
	} else {
		rs.Elems[mapNoEndpointServices][vip(s.ClusterIP)] = internalNone
	}
	usesExt := s.hasEndpoints() && s.External()
	for _, ip := range s.LoadBalancerIPs {
		if usesExt {
			rs.Elems[mapServiceIPs][vip(ip)] = "goto " + extChain
		}
		if !s.hasExternal() {
			rs.Elems[mapNoEndpointServices][vip(ip)] = externalNone
		}
	}
	if s.NodePort != 0 {
		if usesExt {
			rs.Elems[mapServiceNodePorts][nodePort] = "goto " + extChain
		}
		if !s.hasExternal() {
			rs.Elems[mapNoEndpointNodePorts][nodePort] = externalNone
		}
	}

	// Traffic to the ClusterIP from outside the pod network (the host, a routed client) is masqueraded so
	// replies come back through this node. The rule sits in whichever chain takes ClusterIP traffic.
	masq := fmt.Sprintf("ip daddr %s jump mark-for-masquerade", s.ClusterIP)
	if cfg.PodCIDR.IsValid() {
		masq = fmt.Sprintf("ip daddr %s ip saddr != %s jump mark-for-masquerade", s.ClusterIP, cfg.PodCIDR.Masked())
	}
	if s.usesCluster() {
		rs.policyChain(clusterChain, s, s.Endpoints, internalChain == clusterChain && s.hasInternal(), masq)
	}
	if s.usesLocal() {
		rs.policyChain(localChain, s, s.LocalEndpoints, internalChain == localChain && s.hasInternal(), masq)
	}
	if usesExt {
		var rules []string
		if !s.ExternalLocal {
			// externalTrafficPolicy Cluster: always masquerade, so the reply comes back through this node.
			rules = append(rules, "jump mark-for-masquerade")
		} else {
			// Local keeps the client's address, so only this node's endpoints will do. Pods and the host
			// itself are subject to neither policy and get the whole Service (upstream's short-circuit);
			// the host's traffic is masqueraded since its source is a local address.
			if cfg.PodCIDR.IsValid() {
				rules = append(rules, fmt.Sprintf("ip saddr %s goto %s", cfg.PodCIDR.Masked(), clusterChain))
			}
			rules = append(rules, "fib saddr type local jump mark-for-masquerade", "fib saddr type local goto "+clusterChain)
		}
		// Without local endpoints nothing more: the packet stays untranslated and the filter chains
		// drop it (no-endpoint maps).
		if s.hasExternal() {
			target := clusterChain
			if s.ExternalLocal {
				target = localChain
			}
			rules = append(rules, "goto "+target)
		}
		rs.Chains[extChain] = Chain{Spec: comment(s.Name + " external"), Rules: rules}
	}
	for _, ep := range s.Reachable() {
		sep := sepID(s, ep)
		rules := []string{
			// Hairpin: a pod reaching itself through its Service must see another source, or it would
			// answer itself directly and the connection would never match.
			fmt.Sprintf("ip saddr %s jump mark-for-masquerade", ep.Addr()),
		}
		if s.AffinitySeconds > 0 {
			rs.Sets["aff-"+sep] = fmt.Sprintf("type ipv4_addr; flags dynamic,timeout; timeout %ds;", s.AffinitySeconds)
			rules = append(rules, fmt.Sprintf("update @aff-%s { ip saddr }", sep))
		}
		rules = append(rules, fmt.Sprintf("meta l4proto %s dnat to %s", proto, ep))
		rs.Chains["sep-"+sep] = Chain{Spec: comment(fmt.Sprintf("%s -> %s", s.Name, ep)), Rules: rules}
	}
}

// policyChain spreads over eps at random, or keeps a client on its endpoint with session affinity.
// The spread is a cascade (endpoint i of n taken with probability 1/(n-i)), as kube-proxy's iptables
// mode, rather than one numgen vmap: each vmap is an anonymous set, and the kernel finds the sets of a
// transaction by a linear search, which made a full sync of 5,000 Services quadratic (minutes).
func (rs *Ruleset) policyChain(name string, s *Service, eps []netip.AddrPort, internal bool, masq string) {
	var rules []string
	if internal {
		rules = append(rules, masq)
	}
	if s.AffinitySeconds > 0 {
		for _, ep := range eps {
			sep := sepID(s, ep)
			rules = append(rules, fmt.Sprintf("ip saddr @aff-%s goto sep-%s", sep, sep))
		}
	}
	for i, ep := range eps {
		if left := len(eps) - i; left > 1 {
			rules = append(rules, fmt.Sprintf("numgen random mod %d == 0 goto sep-%s", left, sepID(s, ep)))
		} else {
			rules = append(rules, "goto sep-"+sepID(s, ep))
		}
	}
	rs.Chains[name] = Chain{Spec: comment(s.Name), Rules: rules}
}

// sepID names an endpoint's chain (and its affinity set, whose timeout is part of the name).
func sepID(s *Service, ep netip.AddrPort) string {
	if s.AffinitySeconds > 0 {
		return chainID(s.Name, string(s.Protocol), ep.String(), strconv.Itoa(int(s.AffinitySeconds)))
	}
	return chainID(s.Name, string(s.Protocol), ep.String())
}

func comment(s string) string { return "comment " + strconv.Quote(s) + ";" }

// chainID names a chain after what it routes: short, stable across syncs and restarts, and valid in nft.
func chainID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
}
