// Package overlay connects the nodes' pod subnets so pods reach pods on other nodes. Each node's agent runs
// it; it reads Nodes (spec.podCIDR, InternalIP, the VTEP MAC annotation) and programs this host's kernel:
//
//	vxlan (default; nodes need only IP reachability, UDP 8472 between them):
//	  device skiff.vxlan (VNI 1, nolearning; only while there are other nodes), address <own podCIDR network>/32, MAC from the node name,
//	  published as annotation network.skiff.io/vtep-mac on the own Node. Per other node N:
//	    neighbour  N.podCIDR.network  lladdr N.mac    (ARP, permanent)
//	    fdb        N.mac  dst N.InternalIP             (where to send the encapsulated frame)
//	    route      N.podCIDR via N.podCIDR.network dev skiff.vxlan onlink
//	host-gw (nodes on one L2 segment): per other node, route N.podCIDR via N.InternalIP.
//
// Routes carry protocol 0x5a ("skiff") so the controller removes only its own. Peers is pure (Nodes to what
// must exist); the netlink side only makes the kernel match it. It owns skiff.vxlan and its routes; the pod
// bridge (skiff0) is the CNI config's, the Service rules the proxy's.
package overlay
