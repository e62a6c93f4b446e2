// Package framework is the scheduler's plugin contract: the extension points a plugin implements, the
// per-cycle state, the node view (NodeInfo) plugins read, and Status, the answer every plugin gives.
//
// A scheduling cycle for one pod:
//
//	PreFilter (all) ─▶ Filter (per node, in parallel) ─▶ [no node fits] PostFilter (preemption)
//	     └─▶ PreScore (all) ─▶ Score (per node) ─▶ NormalizeScore ─▶ weighted sum ─▶ pick host ─▶ bind
//
// Plugins are pure with respect to the cluster: they read the cycle's Snapshot (through Handle) and the
// CycleState, and never call the API except where their job is to (preemption evicts pods).
//
// Glossary: a Snapshot is an immutable view of all nodes and their pods for one cycle. Requested resources are
// the sum of pod requests on a node; NonZeroRequested uses upstream's defaults (100m CPU, 200 MiB) for pods that
// request nothing, so scoring still spreads them.
package framework
