// Package cache is the scheduler's view of nodes and the pods bound (or about to be bound) to them.
//
// Pods the scheduler has chosen a node for are "assumed": counted on their node at once, before the binding
// reaches the API server, so the next cycle never double-books the node. When the informer later reports the
// bound pod, the assumption is confirmed; if binding fails, the pod is forgotten.
//
// Each scheduling cycle takes a Snapshot: only the NodeInfos that changed since the previous snapshot are
// copied, so a cycle over 5,000 nodes costs little when one pod was bound since the last one.
package cache
