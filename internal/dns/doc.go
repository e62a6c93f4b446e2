// Package dns is the cluster DNS server: it answers names under the cluster domain (cluster.local by default)
// from client-go informer caches of Services and EndpointSlices, with the record shapes of the Kubernetes DNS
// specification as kube-dns and CoreDNS's kubernetes plugin serve them, and forwards every other name to the
// upstream resolvers of a resolv.conf, with a small TTL-respecting cache.
//
// Records (zone = the cluster domain):
//
//	<svc>.<ns>.svc.<zone>                A/AAAA: the ClusterIPs; headless: the ready endpoint IPs (all with
//	                                     publishNotReadyAddresses); ExternalName: CNAME to spec.externalName
//	<host>.<svc>.<ns>.svc.<zone>         A/AAAA of the endpoint whose hostname (or dashed IP) is <host>
//	_<port>._<proto>.<svc>.<ns>.svc.<zone> SRV per named port: target the service name, or per endpoint for
//	                                     headless services (the address records are in the additional section)
//	<a-b-c-d>.<ns>.pod.<zone>            A/AAAA of the dashed IP ("pods insecure")
//	<reversed>.in-addr.arpa / ip6.arpa   PTR for ClusterIPs and headless endpoint IPs (others are forwarded)
//	dns-version.<zone>                   TXT "1.1.0"
//	<zone>                               SOA (also in the authority section of NXDOMAIN and NODATA answers)
//
// A name that exists without records of the asked type answers NOERROR with an empty answer (NODATA); a name
// that does not exist answers NXDOMAIN; a headless Service without ready endpoints does not exist (as the
// specification says and CoreDNS answers). Until the informers have synced, names in the zone answer SERVFAIL.
// Queries are answered over UDP (truncated to the client's buffer size) and TCP.
package dns
