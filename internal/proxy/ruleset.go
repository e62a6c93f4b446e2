package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"strings"
)

// Table is the nftables table the proxy owns (family ip).
const Table = "skiff-proxy"

// masqMark is the packet mark bit that asks nat-postrouting to masquerade (kube-proxy uses the same bit).
const masqMark = "0x4000"

// RenderConfig is what the ruleset needs besides the Services.
type RenderConfig struct {
	// PodCIDR is the pods' network: traffic to a Service from outside it (the host, other machines) is
	// masqueraded so replies come back through this node. Invalid: all such traffic is masqueraded.
	PodCIDR netip.Prefix
}

// Render returns an nft script that replaces the whole table in one transaction.
func Render(cfg RenderConfig, services []Service) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteByte('\n') }
	// Creating the table first makes the delete succeed when it did not exist yet.
	w("table ip %s", Table)
	w("delete table ip %s", Table)
	w("table ip %s {", Table)
	w("\tcomment \"skiff service proxy; rewritten on every sync\"")

	var vips, nodePorts, noEp, noEpNodePorts []string
	for _, s := range services {
		proto := strings.ToLower(string(s.Protocol))
		vip := fmt.Sprintf("%s . %s . %d", s.ClusterIP, proto, s.Port)
		if len(s.Endpoints) == 0 {
			noEp = append(noEp, vip)
			if s.NodePort != 0 {
				noEpNodePorts = append(noEpNodePorts, fmt.Sprintf("%s . %d", proto, s.NodePort))
			}
			continue
		}
		id := chainID(s.Name, string(s.Protocol))
		vips = append(vips, fmt.Sprintf("%s : goto svc-%s", vip, id))
		if s.NodePort != 0 {
			nodePorts = append(nodePorts, fmt.Sprintf("%s . %d : goto ext-%s", proto, s.NodePort, id))
		}
	}
	set := func(kind, name, typ string, elems []string) {
		w("\t%s %s {", kind, name)
		w("\t\ttype %s", typ)
		if len(elems) > 0 {
			w("\t\telements = { %s }", strings.Join(elems, ",\n\t\t\t"))
		}
		w("\t}")
	}
	set("map", "service-ips", "ipv4_addr . inet_proto . inet_service : verdict", vips)
	set("map", "service-nodeports", "inet_proto . inet_service : verdict", nodePorts)
	set("set", "no-endpoint-services", "ipv4_addr . inet_proto . inet_service", noEp)
	set("set", "no-endpoint-nodeports", "inet_proto . inet_service", noEpNodePorts)

	// Hooks. DNAT happens at dstnat (prerouting, pods and outside) and at output (-100, the host itself);
	// the filter chains run after it, so only VIPs left untranslated (no endpoints) reach the reject.
	w("\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t}")
	w("\tchain nat-output {\n\t\ttype nat hook output priority -100; policy accept;\n\t\tjump services\n\t}")
	w("\tchain nat-postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;")
	w("\t\tmeta mark & %s == 0 return", masqMark)
	w("\t\tmeta mark set meta mark ^ %s", masqMark)
	w("\t\tmasquerade fully-random\n\t}")
	w("\tchain services {")
	w("\t\tip daddr . meta l4proto . th dport vmap @service-ips")
	// NodePorts answer on every local address but loopback (127/8 would need route_localnet).
	w("\t\tip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @service-nodeports")
	w("\t}")
	w("\tchain mark-for-masquerade {\n\t\tmeta mark set meta mark | %s\n\t}", masqMark)
	for _, hook := range []string{"input", "forward", "output"} {
		w("\tchain filter-%s {\n\t\ttype filter hook %s priority -10; policy accept;", hook, hook)
		w("\t\tct state new ip daddr . meta l4proto . th dport @no-endpoint-services reject")
		if hook == "input" {
			w("\t\tct state new fib daddr type local meta l4proto . th dport @no-endpoint-nodeports reject")
		}
		w("\t}")
	}

	for _, s := range services {
		if len(s.Endpoints) == 0 {
			continue
		}
		renderService(w, cfg, s)
	}
	w("}")
	return b.String()
}

func renderService(w func(string, ...any), cfg RenderConfig, s Service) {
	id := chainID(s.Name, string(s.Protocol))
	proto := strings.ToLower(string(s.Protocol))
	switch {
	case s.NodePort != 0 && s.ExternalLocal:
		// externalTrafficPolicy Local: keep the client's address, so only this node's endpoints will do.
		// Pods (and so hairpin) still get the whole Service, as upstream.
		w("\tchain ext-%s {", id)
		if cfg.PodCIDR.IsValid() {
			w("\t\tip saddr %s goto svc-%s", cfg.PodCIDR.Masked(), id)
		}
		if len(s.LocalEndpoints) == 0 {
			w("\t\tdrop")
		} else {
			arms := make([]string, len(s.LocalEndpoints))
			for i, ep := range s.LocalEndpoints {
				arms[i] = fmt.Sprintf("%d : goto sep-%s", i, chainID(s.Name, string(s.Protocol), ep.String()))
			}
			w("\t\tnumgen random mod %d vmap { %s }", len(arms), strings.Join(arms, ", "))
		}
		w("\t}")
	case s.NodePort != 0:
		// externalTrafficPolicy Cluster: always masquerade, so the reply comes back through this node.
		w("\tchain ext-%s {\n\t\tjump mark-for-masquerade\n\t\tgoto svc-%s\n\t}", id, id)
	}
	w("\tchain svc-%s {", id)
	w("\t\tcomment %q", s.Name)
	if cfg.PodCIDR.IsValid() {
		w("\t\tip saddr != %s jump mark-for-masquerade", cfg.PodCIDR.Masked())
	} else {
		w("\t\tjump mark-for-masquerade")
	}
	seps := make([]string, len(s.Endpoints))
	for i, ep := range s.Endpoints {
		seps[i] = chainID(s.Name, string(s.Protocol), ep.String())
		if s.AffinitySeconds > 0 {
			w("\t\tip saddr @aff-%s goto sep-%s", seps[i], seps[i])
		}
	}
	arms := make([]string, len(seps))
	for i, sep := range seps {
		arms[i] = fmt.Sprintf("%d : goto sep-%s", i, sep)
	}
	w("\t\tnumgen random mod %d vmap { %s }", len(seps), strings.Join(arms, ", "))
	w("\t}")
	for i, ep := range s.Endpoints {
		if s.AffinitySeconds > 0 {
			w("\tset aff-%s {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout %ds\n\t}", seps[i], s.AffinitySeconds)
		}
		w("\tchain sep-%s {", seps[i])
		w("\t\tcomment \"%s -> %s\"", s.Name, ep)
		// Hairpin: a pod reaching itself through its Service must see another source, or it would answer
		// itself directly and the connection would never match.
		w("\t\tip saddr %s jump mark-for-masquerade", ep.Addr())
		if s.AffinitySeconds > 0 {
			w("\t\tupdate @aff-%s { ip saddr }", seps[i])
		}
		w("\t\tmeta l4proto %s dnat to %s", proto, ep)
		w("\t}")
	}
}

// chainID names a chain after what it routes: short, stable across syncs and restarts, and valid in nft.
func chainID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
}
