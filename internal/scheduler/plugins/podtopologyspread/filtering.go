package podtopologyspread

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"skiff/internal/scheduler/framework"
)

const preFilterStateKey framework.StateKey = "PreFilter" + Name

// domainCount is one topology domain (a value of the constraint's topology key) and its matching pods.
type domainCount struct {
	value string
	count int
}

// minPaths tracks the domain with the fewest matching pods, plus a runner-up, for one constraint. [0].count
// is always the global minimum; [1].count is >= [0].count but only guaranteed to be the second smallest
// right after PreFilter. That is enough for preemption, which simulates changes on one node (one domain
// per constraint) of a cloned state at a time: when the minimum domain grows, the runner-up is still a
// lower bound of every other domain.
type minPaths [2]domainCount

func newMinPaths() minPaths {
	return minPaths{{count: math.MaxInt32}, {count: math.MaxInt32}}
}

// set records that domain value now has count matching pods.
func (p *minPaths) set(value string, count int) {
	switch value {
	case p[0].value:
		p[0].count = count
	case p[1].value:
		p[1].count = count
	default:
		if count < p[0].count {
			p[1] = p[0]
			p[0] = domainCount{value, count}
		} else if count < p[1].count {
			p[1] = domainCount{value, count}
		}
		return
	}
	if p[0].count > p[1].count {
		p[0], p[1] = p[1], p[0]
	}
}

// preFilterState is what Filter reads: per DoNotSchedule constraint, the matching pods per domain.
type preFilterState struct {
	// mu guards the counts: preemption's AddPod/RemovePod write them.
	mu          sync.RWMutex
	constraints []constraint
	// selfMatch[i]: the incoming pod matches constraint i's selector (it adds one to its domain).
	selfMatch []bool
	paths     []minPaths
	// counts[i] maps each eligible domain of constraint i to its matching pods.
	counts []map[string]int
}

// Clone deep-copies the counts; constraints never change after PreFilter.
func (s *preFilterState) Clone() framework.StateData {
	if s == nil {
		return (*preFilterState)(nil)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := &preFilterState{
		constraints: s.constraints,
		selfMatch:   s.selfMatch,
		paths:       append([]minPaths(nil), s.paths...),
		counts:      make([]map[string]int, len(s.counts)),
	}
	for i, m := range s.counts {
		c.counts[i] = maps.Clone(m)
	}
	return c
}

// globalMin is the smallest domain count of constraint i, or 0 while fewer than minDomains domains exist.
func (s *preFilterState) globalMin(i int) int {
	if len(s.counts[i]) < int(s.constraints[i].minDomains) {
		return 0
	}
	return s.paths[i][0].count
}

// PreFilter counts, over every node of the snapshot, the pods matching each DoNotSchedule constraint per
// topology domain. Pods without hard constraints (and no default ones) skip this plugin's Filter.
func (pl *PodTopologySpread) PreFilter(ctx context.Context, cs *framework.CycleState, pod *corev1.Pod) (*framework.PreFilterResult, *framework.Status) {
	s, err := pl.calPreFilterState(ctx, pod)
	if err != nil {
		return nil, framework.AsStatus(err)
	}
	if len(s.constraints) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	cs.Write(preFilterStateKey, s)
	return nil, nil
}

func (pl *PodTopologySpread) calPreFilterState(ctx context.Context, pod *corev1.Pod) (*preFilterState, error) {
	constraints, err := pl.getConstraints(pod, corev1.DoNotSchedule)
	if err != nil {
		return nil, fmt.Errorf("obtaining pod's hard topology spread constraints: %w", err)
	}
	if len(constraints) == 0 {
		return &preFilterState{}, nil
	}
	nodes := pl.handle.SnapshotSharedLister().NodeInfos().List()
	nc := len(constraints)
	s := &preFilterState{
		constraints: constraints,
		selfMatch:   make([]bool, nc),
		paths:       make([]minPaths, nc),
		counts:      make([]map[string]int, nc),
	}
	podLabels := labels.Set(pod.Labels)
	for i := range constraints {
		s.selfMatch[i] = constraints[i].selector.Matches(podLabels)
		size := 0
		if constraints[i].topologyKey == corev1.LabelHostname {
			size = len(nodes)
		}
		s.counts[i] = make(map[string]int, size)
	}

	// perNode[n*nc+i] is node n's matching pods for constraint i, or -1 when the node does not count.
	perNode := make([]int32, len(nodes)*nc)
	required := nodeaffinity.GetRequiredNodeAffinity(pod)
	parallelizeUntil(ctx, len(nodes), func(n int) {
		row := perNode[n*nc : (n+1)*nc]
		node := nodes[n].Node
		if !nodeHasAllKeys(node.Labels, constraints) {
			for i := range row {
				row[i] = -1
			}
			return
		}
		for i := range constraints {
			c := &constraints[i]
			if !c.nodeIncluded(pod, node, required) {
				row[i] = -1
				continue
			}
			row[i] = int32(countMatching(nodes[n].Pods, c.selector, pod.Namespace))
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for n, ni := range nodes {
		row := perNode[n*nc : (n+1)*nc]
		for i := range constraints {
			if row[i] < 0 {
				continue
			}
			s.counts[i][ni.Node.Labels[constraints[i].topologyKey]] += int(row[i])
		}
	}
	for i := range constraints {
		s.paths[i] = newMinPaths()
		for v, c := range s.counts[i] {
			s.paths[i].set(v, c)
		}
	}
	return s, nil
}

// PreFilterExtensions implements framework.PreFilterWithExtensions.
func (pl *PodTopologySpread) PreFilterExtensions() framework.PreFilterExtensions { return pl }

// AddPod updates the counts as if podToAdd ran on nodeInfo's node (preemption simulation).
func (pl *PodTopologySpread) AddPod(_ context.Context, cs *framework.CycleState, podToSchedule *corev1.Pod, podToAdd *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	return pl.updateWithPod(cs, podToSchedule, podToAdd, nodeInfo, 1)
}

// RemovePod updates the counts as if podToRemove left nodeInfo's node (preemption simulation).
func (pl *PodTopologySpread) RemovePod(_ context.Context, cs *framework.CycleState, podToSchedule *corev1.Pod, podToRemove *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	return pl.updateWithPod(cs, podToSchedule, podToRemove, nodeInfo, -1)
}

func (pl *PodTopologySpread) updateWithPod(cs *framework.CycleState, preemptor *corev1.Pod, pi *framework.PodInfo, nodeInfo *framework.NodeInfo, delta int) *framework.Status {
	s, err := getPreFilterState(cs)
	if errors.Is(err, framework.ErrNotFound) {
		// PreFilter returned Skip: there is nothing to keep up to date.
		return nil
	}
	if err != nil {
		return framework.AsStatus(err)
	}
	if s == nil || pi == nil || nodeInfo == nil || nodeInfo.Node == nil || pi.Pod.Namespace != preemptor.Namespace {
		return nil
	}
	node := nodeInfo.Node
	if !nodeHasAllKeys(node.Labels, s.constraints) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	required := nodeaffinity.GetRequiredNodeAffinity(preemptor)
	podLabels := labels.Set(pi.Pod.Labels)
	for i := range s.constraints {
		c := &s.constraints[i]
		if !c.selector.Matches(podLabels) || !c.nodeIncluded(preemptor, node, required) {
			continue
		}
		v := node.Labels[c.topologyKey]
		s.counts[i][v] += delta
		s.paths[i].set(v, s.counts[i][v])
	}
	return nil
}

func getPreFilterState(cs *framework.CycleState) (*preFilterState, error) {
	return framework.ReadState[*preFilterState](cs, preFilterStateKey)
}

// Filter rejects a node where placing the pod would make some constraint's skew exceed maxSkew:
// matching pods in the node's domain + (1 if the pod matches itself) - global minimum > maxSkew. A node
// missing a constraint's topology label can never fit (UnschedulableAndUnresolvable).
func (pl *PodTopologySpread) Filter(_ context.Context, cs *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	node := nodeInfo.Node
	if node == nil {
		return framework.NewStatus(framework.Error, "node not found")
	}
	s, err := getPreFilterState(cs)
	if err != nil {
		return framework.AsStatus(err)
	}
	if s == nil || len(s.constraints) == 0 {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.constraints {
		c := &s.constraints[i]
		v, ok := node.Labels[c.topologyKey]
		if !ok {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeLabelNotMatch)
		}
		self := 0
		if s.selfMatch[i] {
			self = 1
		}
		if s.counts[i][v]+self-s.globalMin(i) > int(c.maxSkew) {
			return framework.NewStatus(framework.Unschedulable, ErrReasonConstraintsNotMatch)
		}
	}
	return nil
}
