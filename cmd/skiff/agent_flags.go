package main

import (
	"github.com/spf13/pflag"

	"skiff/internal/kubelet/node"
	"skiff/internal/server"
)

// addNodeAgentFlags registers the node agent's flags, shared by `skiff server` (its own node) and `skiff agent`.
func addNodeAgentFlags(f *pflag.FlagSet, n *server.NodeAgentConfig) {
	f.StringVar(&n.NodeName, "node-name", "", "this node's name (default: the host name)")
	f.StringVar(&n.NodeIP, "node-ip", "", "this node's IP (default: the first non-loopback IPv4 address)")
	f.StringToStringVar(&n.NodeLabels, "node-labels", nil, "labels to add to the node (k=v,...)")
	f.StringSliceVar(&n.NodeTaints, "register-with-taints", nil, "taints to register the node with (key=value:Effect,...)")
	f.IntVar(&n.MaxPods, "max-pods", 110, "how many pods this node runs at most")
	f.StringVar(&n.RuntimeEndpoint, "container-runtime-endpoint", "", "an existing CRI runtime (unix:///path.sock) instead of the containerd skiff starts")
	f.StringVar(&n.PodCIDR, "pod-cidr", "", "this node's pod subnet, set at registration instead of allocated from --cluster-cidr")
	f.IntVar(&n.KubeletPort, "kubelet-port", 10250, "port of the node agent's HTTPS server (logs, exec, attach, port-forward)")
	f.StringToStringVar(&n.KubeReserved, "kube-reserved", nil, "resources held back from allocatable for Kubernetes daemons (cpu=100m,memory=256Mi,ephemeral-storage=1Gi,pid=1000)")
	f.StringToStringVar(&n.SystemReserved, "system-reserved", nil, "resources held back from allocatable for the OS (same form as --kube-reserved)")
	f.StringVar(&n.EvictionHard, "eviction-hard", node.DefaultEvictionHard, "hard eviction thresholds (signal<quantity or signal<percent%,...) that set the node's MemoryPressure, DiskPressure and PIDPressure")
}
