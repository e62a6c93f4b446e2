package policy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
)

// Table is the nftables table the controller owns (family inet, so the proxy's ip table is untouched).
const Table = "skiff-policy"

// Render returns an nft script that replaces the whole table in one transaction.
func Render(m Model) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteByte('\n') }
	// Creating the table first makes the delete succeed when it did not exist yet.
	w("table inet %s", Table)
	w("delete table inet %s", Table)
	w("table inet %s {", Table)
	w("\tcomment \"skiff network policy; rewritten on every sync\"")

	r := renderer{sets: map[string]string{}, chains: map[string]*chain{}}
	ingress := r.targets("ingress", "accept", "saddr", "goto", m.Ingress)
	egress := r.targets("egress", "return", "daddr", "jump", m.Egress)

	// A pod may always reach itself (through its own Service, hairpin), as upstream.
	var self []string
	seen := map[string]bool{}
	for _, ts := range [][]Target{m.Ingress, m.Egress} {
		for _, t := range ts {
			if !seen[t.IP.String()] {
				seen[t.IP.String()] = true
				self = append(self, fmt.Sprintf("%s . %s", t.IP, t.IP))
			}
		}
	}
	set := func(kind, name, typ, flags string, elems []string) {
		w("\t%s %s {", kind, name)
		w("\t\ttype %s", typ)
		if flags != "" {
			w("\t\tflags %s", flags)
		}
		if len(elems) > 0 {
			w("\t\telements = { %s }", strings.Join(elems, ",\n\t\t\t"))
		}
		w("\t}")
	}
	set("set", "self", "ipv4_addr . ipv4_addr", "", self)
	set("map", "ingress-pods", "ipv4_addr : verdict", "", ingress)
	set("map", "egress-pods", "ipv4_addr : verdict", "", egress)
	for _, name := range sortedKeys(r.sets) {
		set("set", name, "ipv4_addr", "interval", []string{r.sets[name]})
	}

	// Priority filter (0) runs after the proxy's DNAT (prerouting dstnat, output -100): addresses and ports
	// here are the real endpoints'. Bridged pod-to-pod traffic reaches forward through br_netfilter.
	w("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;")
	w("\t\tct state established,related accept")
	w("\t\tip saddr . ip daddr @self accept")
	w("\t\tip saddr vmap @egress-pods")
	w("\t\tip daddr vmap @ingress-pods\n\t}")
	// Traffic from pods to their node is always allowed, as upstream, except to the cluster DNS server,
	// which stands for the kube-dns pods an upstream cluster would have.
	w("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;")
	w("\t\tct state established,related accept")
	if m.DNS.IsValid() {
		w("\t\tip daddr %s meta l4proto { tcp, udp } th dport %d ip saddr vmap @egress-pods", m.DNS.Addr(), m.DNS.Port())
	}
	w("\t}")
	for _, name := range sortedKeys(r.chains) {
		c := r.chains[name]
		w("\tchain %s {", name)
		comment := c.first
		if c.n > 1 {
			comment = fmt.Sprintf("%s and %d more", c.first, c.n-1)
		}
		w("\t\tcomment %q", comment)
		b.WriteString(c.body)
		w("\t\tdrop\n\t}")
	}
	w("}")
	return b.String()
}

type chain struct {
	body  string
	first string // a pod using the chain
	n     int    // how many do
}

type renderer struct {
	sets   map[string]string // name → elements
	chains map[string]*chain
}

// targets renders one chain per distinct rule list (pods under the same policies share it) and returns the
// vmap elements sending each pod's traffic there.
func (r *renderer) targets(dir, verdict, peerField, call string, ts []Target) []string {
	var elems []string
	for _, t := range ts {
		var body strings.Builder
		for _, rule := range t.Rules {
			match := ""
			switch {
			case rule.AnyPeer:
			case len(rule.Peers) == 1 && rule.Peers[0].From == rule.Peers[0].To:
				match = fmt.Sprintf("ip %s %s ", peerField, rule.Peers[0].From)
			default:
				elems := rule.Peers.String()
				name := "peers-" + id(elems)
				r.sets[name] = elems
				match = fmt.Sprintf("ip %s @%s ", peerField, name)
			}
			if rule.AnyPort {
				fmt.Fprintf(&body, "\t\t%s%s\n", match, verdict)
				continue
			}
			for _, p := range rule.Ports {
				fmt.Fprintf(&body, "\t\t%s%s %s\n", match, portMatch(p), verdict)
			}
		}
		name := dir + "-" + id(body.String())
		if c := r.chains[name]; c != nil {
			c.n++
		} else {
			r.chains[name] = &chain{body: dedupLines(body.String()), first: t.Pod, n: 1}
		}
		elems = append(elems, fmt.Sprintf("%s : %s %s", t.IP, call, name))
	}
	return elems
}

func portMatch(p Port) string {
	proto := strings.ToLower(string(p.Protocol))
	switch {
	case p.From == 0:
		return "meta l4proto " + proto
	case p.From == p.To:
		return fmt.Sprintf("meta l4proto %s th dport %d", proto, p.From)
	}
	return fmt.Sprintf("meta l4proto %s th dport %d-%d", proto, p.From, p.To)
}

// dedupLines drops repeated rules (several policies often allow the same thing).
func dedupLines(s string) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" && !seen[l] {
			seen[l] = true
			b.WriteString(l)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// id names a set or chain after its content: short, stable across syncs and restarts, valid in nft.
func id(content string) string {
	sum := sha256.Sum256([]byte(content))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
}
