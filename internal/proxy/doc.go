// Package proxy is the service proxy: it turns Services and EndpointSlices into one nftables table,
// `ip skiff-proxy`, that sends traffic for a Service's ClusterIP (and NodePort) to one of its endpoints,
// with upstream kube-proxy's nftables-mode semantics. It owns that table and nothing else on the host: it
// never touches other tables, links, routes or sysctls.
//
//	Service/EndpointSlice informers ─▶ dirty signal ─▶ debounced sync (≥ MinSyncInterval apart)
//	     ─▶ Build (pure: objects → []Service) ─▶ Render (pure: → nft script) ─▶ `nft -f -` (one transaction)
//
// The whole table is replaced in each transaction (`table`+`delete table`+`table {...}` in one script, which
// nft applies atomically); an unchanged script is not applied again. On start the first sync rebuilds the
// table from the API, so a restart needs no saved state. The table is left in place on exit, as upstream, so
// traffic keeps flowing while the proxy restarts; DeleteTable removes it.
//
// Table layout (glossary: VIP = a ClusterIP . protocol . port; endpoint = a backend IP:port):
//
//	nat-prerouting (dstnat), nat-output (-100) ─▶ services:
//	    ip daddr . l4proto . dport  vmap @service-ips        ─▶ svc-<hash>
//	    fib daddr local (not 127/8)  l4proto . dport vmap @service-nodeports ─▶ ext-<hash> (mark, ─▶ svc-<hash>)
//	svc-<hash>: mark for masquerade when the source is not a pod (host, outside);
//	            numgen random mod N vmap { i: goto sep-<hash> }   (or ClientIP affinity, see below)
//	sep-<hash>: mark for masquerade when the source is the endpoint itself (hairpin); dnat to IP:port
//	nat-postrouting (srcnat): mark 0x4000 set ─▶ masquerade
//	filter-input/forward/output: daddr . l4proto . dport in @no-endpoint-services ─▶ reject (ICMP port unreachable)
//
// Endpoint choice: endpoints with ready (unset counts as ready) are used; when none is ready, serving and
// terminating ones are; else the Service has no endpoints and its traffic is rejected. sessionAffinity
// ClientIP keeps a client on one endpoint for timeoutSeconds with a per-endpoint dynamic set of sources.
// externalTrafficPolicy Local: ext-<hash> sends sources outside the pod network to this node's endpoints only,
// without masquerade (drop when there is none), and pods to the whole Service, as upstream.
// Left out: internalTrafficPolicy Local, the health check node port, affinity on the Local path, NodePorts on
// loopback addresses (would need route_localnet), LoadBalancer ingress IPs, externalIPs, IPv6, SCTP,
// topology hints.
package proxy
