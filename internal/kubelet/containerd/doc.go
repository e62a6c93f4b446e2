// Package containerd runs containerd as a child process of skiff, with a configuration skiff writes: its own
// socket, root and state directories under the data dir, the CRI plugin with the settings these machines need
// (restrict_oom_score_adj, overlayfs, runc v2 with cgroupfs, a locally imported sandbox image, CNI from
// /usr/lib/cni). It restarts containerd if it dies and stops it, by PID, on Stop.
//
// Containers survive a containerd or skiff restart: their shims are not children of containerd.
package containerd
