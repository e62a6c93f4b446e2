// Package policy enforces NetworkPolicies for the pods of this node with one nftables table,
// `inet skiff-policy`, following upstream semantics. It owns that table and nothing else: it never touches
// the proxy's table, links, routes or sysctls.
//
//	NetworkPolicy/Pod/Namespace informers ─▶ dirty signal ─▶ debounced sync (≥ MinSyncInterval apart)
//	     ─▶ Build (pure: objects → Model) ─▶ Render (pure: → nft script) ─▶ `nft -f -` (one transaction)
//
// As in the proxy, each sync replaces the whole table atomically and an unchanged script is not applied
// again; the table stays when skiff stops (pods stay isolated) and the next start rebuilds it.
//
// Semantics (glossary: a pod is isolated for a direction when some policy of that type selects it; a peer is
// the other end: the source for ingress, the destination for egress):
//   - a pod no policy of a type selects is unrestricted for that type; the allowed traffic of an isolated
//     pod is the union of all its policies' rules (none: deny all);
//   - policyTypes default as upstream: Ingress always, Egress when the policy has egress rules;
//   - peers: podSelector (the policy's namespace), namespaceSelector (all pods there), both (pods matching
//     in matching namespaces), ipBlock less except (any address, pods included); pods on every node count;
//   - ports: number, number-endPort, protocol only (every port), TCP/UDP/SCTP; a named port resolves on the
//     pod that owns it: the isolated pod for ingress, each destination pod for egress (ipBlock peers never
//     match a named port);
//   - reply and related traffic of an allowed connection flows (conntrack); a pod may always reach itself;
//     traffic between a pod and its own node is always allowed both ways (kubelet probes), as upstream
//     documents, except the cluster DNS below.
//
// Where the hooks run: filter priority 0, after the proxy's DNAT (prerouting dstnat; output -100), so rules
// see endpoints, not Service IPs, as with upstream CNIs. Pods on the skiff0 bridge talk through the bridge;
// br_netfilter (bridge-nf-call-iptables=1, built in here) passes those frames through the inet forward hook,
// so the same rules cover them (a warning is logged when the sysctl is off).
//
// Cluster DNS: pods reach it at the kube-dns Service IP (10.43.0.10:53), which the proxy DNATs to this
// node's DNS server on the pod gateway (10.42.0.1:10053): it lands on the node itself, not on a pod. It
// stands for the CoreDNS pods of an upstream cluster: egress rules govern it (only it, of the node's
// addresses) as if it were a pod in kube-system labelled k8s-app=kube-dns serving 53/UDP "dns" and 53/TCP
// "dns-tcp", and, for ipBlocks, as the Service IP. So "allow egress to kube-system pods k8s-app=kube-dns
// port 53", "allow egress to 10.43.0.10/32 port 53", a rule without peers, or one to all of kube-system each
// open DNS, and a default-deny egress closes it.
//
// Table layout:
//
//	forward (filter hook forward): established,related accept; pod to itself accept;
//	    ip saddr vmap @egress-pods  ─▶ jump egress-<id>: rule matches return, else drop
//	    ip daddr vmap @ingress-pods ─▶ goto ingress-<id>: rule matches accept, else drop
//	input (filter hook input): established,related accept;
//	    to the DNS server: ip saddr vmap @egress-pods
//	egress-<id>/ingress-<id>: one chain per distinct rule list, shared by the pods under the same policies;
//	    peers in named interval sets peers-<id> (pod IPs and ipBlock ranges, merged).
//
// Left out: IPv6, traffic of hostNetwork pods (never selected nor a peer), policies on cross-node traffic
// before there is cross-node routing (the rules already key on pod IPs of every node), endPort on named
// ports (refused by validation), the AdminNetworkPolicy API. A new pod is unrestricted until the first sync
// after it gets its IP (about MinSyncInterval), and connections established before a policy keep flowing.
package policy
