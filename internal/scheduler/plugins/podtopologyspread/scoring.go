package podtopologyspread

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"skiff/internal/scheduler/framework"
)

const preScoreStateKey framework.StateKey = "PreScore" + Name

// invalidScore marks ignored nodes during NormalizeScore.
const invalidScore = -1

// preScoreState is what Score reads: per ScheduleAnyway constraint, matching pods per domain.
type preScoreState struct {
	constraints []constraint
	// ignoredNodes lack some topology key (when all keys are required); they score 0.
	ignoredNodes sets.Set[string]
	// podCounts[i][value] counts matching pods in the domain; hostname constraints are counted in Score.
	podCounts []map[string]*int64
	// weights[i] = ln(number of domains + 2), so that counts in small topologies are not drowned by big ones.
	weights []float64
}

// Clone returns the state itself: nothing changes it after PreScore.
func (s *preScoreState) Clone() framework.StateData { return s }

// PreScore prepares scoring for the pod's ScheduleAnyway constraints (or the soft default constraints).
func (pl *PodTopologySpread) PreScore(ctx context.Context, cs *framework.CycleState, pod *corev1.Pod, filtered []*framework.NodeInfo) *framework.Status {
	all := pl.handle.SnapshotSharedLister().NodeInfos().List()
	if len(all) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	s := &preScoreState{ignoredNodes: sets.New[string]()}
	// Nodes must carry every topology key unless the constraints are the system defaults, so that nodes
	// without a zone label still get hostname spreading.
	requireAll := len(pod.Spec.TopologySpreadConstraints) > 0 || !pl.systemDefaulted
	if err := pl.initPreScoreState(s, pod, filtered, requireAll); err != nil {
		return framework.AsStatus(fmt.Errorf("calculating preScoreState: %w", err))
	}
	if len(s.constraints) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	required := nodeaffinity.GetRequiredNodeAffinity(pod)
	parallelizeUntil(ctx, len(all), func(n int) {
		node := all[n].Node
		if requireAll && !nodeHasAllKeys(node.Labels, s.constraints) {
			return
		}
		for i := range s.constraints {
			c := &s.constraints[i]
			if !c.nodeIncluded(pod, node, required) {
				continue
			}
			// Only domains of candidate nodes matter; hostname domains are counted in Score.
			p := s.podCounts[i][node.Labels[c.topologyKey]]
			if p == nil {
				continue
			}
			atomic.AddInt64(p, int64(countMatching(all[n].Pods, c.selector, pod.Namespace)))
		}
	})
	if err := ctx.Err(); err != nil {
		return framework.AsStatus(err)
	}
	cs.Write(preScoreStateKey, s)
	return nil
}

func (pl *PodTopologySpread) initPreScoreState(s *preScoreState, pod *corev1.Pod, filtered []*framework.NodeInfo, requireAll bool) error {
	var err error
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		s.constraints, err = parseConstraints(pod.Spec.TopologySpreadConstraints, pod.Labels, corev1.ScheduleAnyway)
		if err != nil {
			return fmt.Errorf("obtaining pod's soft topology spread constraints: %w", err)
		}
	} else {
		s.constraints, err = pl.buildDefaultConstraints(pod, corev1.ScheduleAnyway)
		if err != nil {
			return fmt.Errorf("setting default soft topology spread constraints: %w", err)
		}
	}
	if len(s.constraints) == 0 {
		return nil
	}
	s.podCounts = make([]map[string]*int64, len(s.constraints))
	for i := range s.podCounts {
		s.podCounts[i] = map[string]*int64{}
	}
	domains := make([]int, len(s.constraints))
	for _, ni := range filtered {
		node := ni.Node
		if node == nil {
			continue
		}
		if requireAll && !nodeHasAllKeys(node.Labels, s.constraints) {
			s.ignoredNodes.Insert(node.Name)
			continue
		}
		for i := range s.constraints {
			c := &s.constraints[i]
			if c.topologyKey == corev1.LabelHostname {
				continue
			}
			v := node.Labels[c.topologyKey]
			if s.podCounts[i][v] == nil {
				s.podCounts[i][v] = new(int64)
				domains[i]++
			}
		}
	}
	s.weights = make([]float64, len(s.constraints))
	for i := range s.constraints {
		size := domains[i]
		if s.constraints[i].topologyKey == corev1.LabelHostname {
			size = len(filtered) - s.ignoredNodes.Len()
		}
		s.weights[i] = math.Log(float64(size + 2))
	}
	return nil
}

func getPreScoreState(cs *framework.CycleState) (*preScoreState, error) {
	return framework.ReadState[*preScoreState](cs, preScoreStateKey)
}

// Score sums, over the constraints, matching pods in the node's domain times the constraint's weight plus
// maxSkew-1 (which softens the differences between domains); fewer is better, NormalizeScore inverts it.
func (pl *PodTopologySpread) Score(_ context.Context, cs *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	node := nodeInfo.Node
	if node == nil {
		return 0, framework.NewStatus(framework.Error, "node not found")
	}
	s, err := getPreScoreState(cs)
	if err != nil {
		return 0, framework.AsStatus(err)
	}
	if s.ignoredNodes.Has(node.Name) {
		return 0, nil
	}
	var score float64
	for i := range s.constraints {
		c := &s.constraints[i]
		v, ok := node.Labels[c.topologyKey]
		if !ok {
			continue
		}
		var cnt int64
		if c.topologyKey == corev1.LabelHostname {
			cnt = int64(countMatching(nodeInfo.Pods, c.selector, pod.Namespace))
		} else if p := s.podCounts[i][v]; p != nil {
			cnt = *p
		}
		score += float64(cnt)*s.weights[i] + float64(c.maxSkew-1)
	}
	return int64(math.Round(score)), nil
}

// NormalizeScore maps raw scores to [0, MaxNodeScore], the node with the fewest matching pods getting the
// most: MaxNodeScore * (max + min - score) / max. Ignored nodes get 0.
func (pl *PodTopologySpread) NormalizeScore(_ context.Context, cs *framework.CycleState, _ *corev1.Pod, scores framework.NodeScoreList) *framework.Status {
	s, err := getPreScoreState(cs)
	if err != nil {
		return framework.AsStatus(err)
	}
	if s == nil {
		return nil
	}
	var minScore int64 = math.MaxInt64
	var maxScore int64
	for i := range scores {
		if s.ignoredNodes.Has(scores[i].Name) {
			scores[i].Score = invalidScore
			continue
		}
		minScore = min(minScore, scores[i].Score)
		maxScore = max(maxScore, scores[i].Score)
	}
	for i := range scores {
		switch {
		case scores[i].Score == invalidScore:
			scores[i].Score = 0
		case maxScore == 0:
			scores[i].Score = framework.MaxNodeScore
		default:
			scores[i].Score = framework.MaxNodeScore * (maxScore + minScore - scores[i].Score) / maxScore
		}
	}
	return nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *PodTopologySpread) ScoreExtensions() framework.ScoreExtensions { return pl }
