// Package daemonset is the DaemonSet controller, with upstream's semantics: one pod per eligible node
// (template nodeName, nodeSelector and required node affinity match; NoSchedule/NoExecute taints tolerated,
// with upstream's automatic daemon pod tolerations: not-ready and unreachable NoExecute, disk-, memory-,
// pid-pressure and unschedulable NoSchedule, network-unavailable for hostNetwork pods). Pods are created
// unbound with a required node affinity matchFields metadata.name=<node>, which the scheduler honours. Nodes
// that stop matching lose their pod (a NoSchedule taint alone keeps it, a NoExecute one does not), extra pods
// on a node are deleted (the oldest stays), failed pods are deleted and replaced with a per-node back-off.
// ControllerRevisions (<ds>-<hash>, the template patch, numbered; rollback renumbers) label pods
// controller-revision-hash; RollingUpdate replaces pods within maxUnavailable, or surges a new pod next to the
// old one within maxSurge; OnDelete waits for the user. Status counts desired, current, ready, available,
// updated and misscheduled pods. Events: SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete,
// FailedDaemonPod, SucceededDaemonPod, SelectingAll, and FailedPlacement when the scheduler cannot place a
// daemon pod on its node.
//
//	DaemonSet/Pod/Node/ControllerRevision informers ─▶ queue ─▶ sync: claim pods ─▶ history (hash) ─▶
//	   per node: create/delete (expectations, slow start) ─▶ rolling update ─▶ history cleanup ─▶ status
package daemonset
