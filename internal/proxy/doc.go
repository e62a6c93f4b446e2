// Package proxy is the service proxy: it turns Services and EndpointSlices into one nftables table
// (`ip skiff-proxy` by default, Config.Table) that sends traffic for a Service's ClusterIP, NodePort and
// load-balancer IPs to one of its endpoints, with upstream kube-proxy's nftables-mode semantics. It owns
// that table and nothing else on the host: it never touches other tables, links, routes or sysctls.
//
//	Service/EndpointSlice informers ─▶ dirty signal ─▶ debounced sync (≥ MinSyncInterval apart)
//	     ─▶ Build (pure: objects → []Service) ─▶ Compute (pure: → Ruleset: chains, sets, map elements)
//	     ─▶ DiffScript(applied, next) or FullScript(next, what the kernel has) ─▶ `nft -f -` (one transaction)
//	     ─▶ StaleUDP (pure) ─▶ conntrack flush over netlink
//
// Every sync is one nft transaction, so the table is never seen half-updated. Most syncs write only what
// changed since the last applied Ruleset: new or changed chains (flushed and refilled), map elements
// added and deleted, chains and sets no longer used deleted. A full sync (at start, after a failed apply,
// and every ResyncInterval) lists the table's chains and sets, then flushes and refills every chain and
// map and deletes the leftovers; it never deletes the table (unless the table's layout is an older,
// incompatible one), so affinity sets keep their members. Conntrack entries never depend on the table:
// connections established before a sync or a proxy restart keep their translation. The table is left in
// place on exit, as upstream, so traffic keeps flowing while the proxy restarts; DeleteTable removes it.
//
// Table layout (glossary: VIP = an IP . protocol . port; endpoint = a backend IP:port; Cluster/Local =
// the traffic policies' endpoint sets):
//
//	nat-prerouting (dstnat), nat-output (-100) ─▶ services:
//	    ip daddr . l4proto . dport  vmap @service-ips       ClusterIP ─▶ svc-<id> (or local-<id>),
//	                                                        load-balancer IP ─▶ ext-<id>
//	    fib daddr local (not 127/8)  l4proto . dport vmap @service-nodeports ─▶ ext-<id>
//	svc-<id>:   the Cluster policy: every usable endpoint (numgen random cascade, or ClientIP affinity)
//	local-<id>: the Local policy: this node's usable endpoints
//	            (the chain taking ClusterIP traffic first marks sources outside the pod network for masquerade)
//	ext-<id>:   external traffic (NodePort, load-balancer IP). Cluster: mark, goto svc-<id>. Local: pods and
//	            the host short-circuit to svc-<id> (the host masqueraded), the rest goto local-<id>, unmasqueraded
//	sep-<id>:   one endpoint: mark for masquerade when the source is the endpoint itself (hairpin); dnat
//	aff-<id>:   per-endpoint set of ClientIP-affinity sources (dynamic, timeout)
//	nat-postrouting (srcnat): mark 0x4000 set ─▶ masquerade
//	filter-input/forward/output: new connections to @no-endpoint-services / @no-endpoint-nodeports ─▶
//	    goto reject-chain (no endpoint anywhere: ICMP port unreachable) or drop (the Local policy has none here)
//
// Endpoint choice: ready endpoints (unset counts as ready); when none is ready, serving and terminating
// ones. The Local set makes the same choice among this node's endpoints on its own.
// internalTrafficPolicy Local: ClusterIP traffic from this node (pods and host) goes to local-<id> only,
// dropped when there is none; NodePort/load-balancer traffic follows externalTrafficPolicy alone.
// Left out: the health check node port, externalIPs, loadBalancerSourceRanges, IPv6, SCTP, topology
// hints, NodePorts and load-balancer IPs on loopback addresses (would need route_localnet).
package proxy
