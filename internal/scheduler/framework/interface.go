package framework

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
)

// MaxNodeScore is the highest score a Score plugin gives (after normalization); MinNodeScore the lowest.
const (
	MaxNodeScore int64 = 100
	MinNodeScore int64 = 0
)

// Plugin is anything the framework runs.
type Plugin interface {
	Name() string
}

// PreFilterResult narrows the nodes to consider; nil NodeNames means all.
type PreFilterResult struct {
	NodeNames sets.Set[string]
}

// PreFilterPlugin runs once per pod before filtering, typically to compute state Filter reads. Returning Skip
// skips the plugin's Filter for this pod; a rejecting status makes the pod unschedulable at once.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *corev1.Pod) (*PreFilterResult, *Status)
}

// PreFilterExtensions let preemption keep PreFilter state right while it simulates removing and adding pods.
type PreFilterExtensions interface {
	AddPod(ctx context.Context, state *CycleState, podToSchedule *corev1.Pod, podToAdd *PodInfo, nodeInfo *NodeInfo) *Status
	RemovePod(ctx context.Context, state *CycleState, podToSchedule *corev1.Pod, podToRemove *PodInfo, nodeInfo *NodeInfo) *Status
}

// PreFilterWithExtensions is a PreFilter plugin whose state depends on the pods on nodes.
type PreFilterWithExtensions interface {
	PreFilterPlugin
	PreFilterExtensions() PreFilterExtensions
}

// FilterPlugin decides whether the pod fits one node. It is called concurrently for different nodes and must
// only read the NodeInfo.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeInfo *NodeInfo) *Status
}

// NodeToStatus holds the Filter verdict for each rejected node.
type NodeToStatus map[string]*Status

// PostFilterResult names the node a pod was nominated to (preemption).
type PostFilterResult struct {
	NominatedNodeName string
}

// PostFilterPlugin runs when no node fits (preemption).
type PostFilterPlugin interface {
	Plugin
	PostFilter(ctx context.Context, state *CycleState, pod *corev1.Pod, filtered NodeToStatus) (*PostFilterResult, *Status)
}

// PreScorePlugin runs once per pod before scoring, with the nodes that passed filtering.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) *Status
}

// NodeScore is one node's score.
type NodeScore struct {
	Name  string
	Score int64
}

// NodeScoreList is one plugin's scores for all feasible nodes.
type NodeScoreList []NodeScore

// ScoreExtensions normalize a plugin's raw scores into [MinNodeScore, MaxNodeScore].
type ScoreExtensions interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *corev1.Pod, scores NodeScoreList) *Status
}

// ScorePlugin ranks a feasible node. ScoreExtensions may be nil when scores are already in range.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeInfo *NodeInfo) (int64, *Status)
	ScoreExtensions() ScoreExtensions
}

// ClusterEvent is a change that may make unschedulable pods schedulable.
type ClusterEvent struct {
	Resource   EventResource
	ActionType ActionType
}

// EventResource is what changed.
type EventResource string

// Event resources.
const (
	EventPod  EventResource = "Pod"
	EventNode EventResource = "Node"
)

// ActionType is how it changed (a bit set).
type ActionType int64

// Actions.
const (
	Add ActionType = 1 << iota
	Delete
	UpdateNodeAllocatable
	UpdateNodeLabel
	UpdateNodeTaint
	UpdateNodeCondition
	UpdatePodLabel
	UpdatePodScaleDown
	Update = UpdateNodeAllocatable | UpdateNodeLabel | UpdateNodeTaint | UpdateNodeCondition | UpdatePodLabel | UpdatePodScaleDown
	All    = Add | Delete | Update
)

// EnqueueExtensions tells the queue which cluster events can make a pod this plugin rejected schedulable.
type EnqueueExtensions interface {
	EventsToRegister() []ClusterEvent
}

// NodeInfoLister reads the cycle's nodes.
type NodeInfoLister interface {
	List() []*NodeInfo
	HavePodsWithAffinityList() []*NodeInfo
	HavePodsWithRequiredAntiAffinityList() []*NodeInfo
	Get(nodeName string) (*NodeInfo, error)
}

// SharedLister is the snapshot plugins read.
type SharedLister interface {
	NodeInfos() NodeInfoLister
}

// Handle is what plugins get from the framework.
type Handle interface {
	// SnapshotSharedLister is the current cycle's snapshot.
	SnapshotSharedLister() SharedLister
	ClientSet() kubernetes.Interface
	EventRecorder() events.EventRecorder
	// RunFilterPlugins runs every Filter plugin for pod on one node (preemption re-checks fit after removals).
	RunFilterPlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeInfo *NodeInfo) *Status
	// RunPreFilterExtensionRemovePod / AddPod update PreFilter state during preemption simulation.
	RunPreFilterExtensionRemovePod(ctx context.Context, state *CycleState, podToSchedule *corev1.Pod, podToRemove *PodInfo, nodeInfo *NodeInfo) *Status
	RunPreFilterExtensionAddPod(ctx context.Context, state *CycleState, podToSchedule *corev1.Pod, podToAdd *PodInfo, nodeInfo *NodeInfo) *Status
}

// Factory builds a plugin from its args (a kube-scheduler config v1 args type, or nil for defaults).
type Factory func(args runtime.Object, h Handle) (Plugin, error)
