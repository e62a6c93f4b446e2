// Package servicelb is skiff's built-in load balancer for type=LoadBalancer Services, in the manner of
// k3s's servicelb: there is no external balancer, the nodes themselves are the load balancer. The
// controller publishes the addresses of the ready nodes in status.loadBalancer.ingress of every
// LoadBalancer Service without spec.loadBalancerClass (a Service with a class belongs to another
// implementation and is left alone), and clears the status when a Service stops being a LoadBalancer.
// The service proxy on each node then sends traffic for ingress IP:port like NodePort traffic (with
// externalTrafficPolicy honoured).
//
//	Service + Node informers ─▶ queue (namespace/name; every LoadBalancer Service on a node change)
//	    ─▶ sync: Ingress(ready nodes) ─▶ PUT services/<name>/status when it differs
//
// A node's published address is its ExternalIP if it has any, else its InternalIP(s). Nodes labelled
// node.kubernetes.io/exclude-from-external-load-balancers are left out, as upstream's service controller
// does. The controller writes only Service status; it never touches nodes or the proxy's rules.
package servicelb
