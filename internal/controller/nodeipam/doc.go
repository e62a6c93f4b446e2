// Package nodeipam gives every Node a pod subnet: spec.podCIDR (and podCIDRs) cut from the cluster CIDR
// (--cluster-cidr, /--node-cidr-mask-size each), as upstream's range allocator does. The node agent waits for
// it and builds its pod network (CNI bridge and host-local IPAM) from it.
//
//	Node informer ─▶ node without podCIDR ─▶ CIDRSet.Allocate(used = all Nodes' podCIDRs + in flight)
//	             ─▶ PATCH spec.podCIDR/podCIDRs (immutable once set)
//
// What is used is read from the Nodes themselves every time, so a restart or a leadership change needs no
// state of its own; a subnet is free again once its Node is deleted. Nodes whose podCIDR was set by hand
// (skiff server --pod-cidr) are respected; one outside the cluster CIDR is left alone.
//
// It owns only Node spec.podCIDR(s); routes between nodes are the pod network's (internal/kubelet).
package nodeipam
