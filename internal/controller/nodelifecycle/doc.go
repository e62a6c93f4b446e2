// Package nodelifecycle holds two controllers of upstream's kube-controller-manager that act on node health.
//
// The node lifecycle controller (Start, "nodelifecycle", events as "node-controller") watches every Node's
// heartbeats: its Lease in kube-node-lease and its Ready condition. A node heard from by neither for
// NodeMonitorGracePeriod gets Ready, MemoryPressure, DiskPressure and PIDPressure Unknown
// (NodeStatusUnknown, "Kubelet stopped posting node status."), and its pods' Ready condition turns False.
// Conditions become taints: Ready Unknown/False → node.kubernetes.io/unreachable or not-ready (NoSchedule at
// once; NoExecute through a rate-limited queue per zone), pressure True → memory-/disk-/pid-pressure
// NoSchedule, spec.unschedulable → node.kubernetes.io/unschedulable NoSchedule; they go when the condition
// clears. As upstream, a zone whose nodes are all not ready is "fully disrupted", and when every zone is, no
// NoExecute taint is placed (the control plane may be the one cut off).
//
// The taint eviction controller (StartTaintEviction, "taint-eviction-controller") deletes pods from nodes with
// NoExecute taints: at once when a taint is not tolerated, after the smallest tolerationSeconds when all are
// tolerated for a while, never when tolerated forever; it marks the pod DisruptionTarget and records a
// TaintManagerEviction event.
//
//	node, lease informers ─▶ monitor (every grace/8) ─▶ conditions Unknown, pods NotReady, NoExecute queue
//	node informer ─▶ queue ─▶ NoSchedule taints from conditions and spec.unschedulable
//	node taints, pods ─▶ per-pod timers ─▶ DisruptionTarget + DELETE pod
package nodelifecycle
