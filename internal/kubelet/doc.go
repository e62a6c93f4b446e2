// Package kubelet will hold the node agent: pod workers on a CRI runtime, probes, volumes, status and
// streaming (issue C). Today it has the runtime layer only: containerd/ starts and supervises a containerd child
// process with a generated configuration, and cri/ connects to any CRI endpoint.
package kubelet
