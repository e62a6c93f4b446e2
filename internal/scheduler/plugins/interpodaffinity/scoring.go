package interpodaffinity

import (
	"context"
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"skiff/internal/scheduler/framework"
)

const preScoreStateKey framework.StateKey = "PreScore" + Name

// scoreMap: topology key -> value -> summed weight.
type scoreMap map[string]map[string]int64

func (m scoreMap) add(key, value string, w int64) {
	vs := m[key]
	if vs == nil {
		vs = map[string]int64{}
		m[key] = vs
	}
	vs[value] += w
}

func (m scoreMap) merge(o scoreMap) {
	for k, vs := range o {
		if m[k] == nil {
			m[k] = vs
			continue
		}
		for v, w := range vs {
			m[k][v] += w
		}
	}
}

// term adds weight*multiplier to the topology of node when pod matches t.
func (m scoreMap) term(t *affinityTerm, weight int32, pod *corev1.Pod, nsLabels labels.Set, node *corev1.Node, multiplier int32) {
	if !t.matches(pod, nsLabels) {
		return
	}
	if v, ok := node.Labels[t.topologyKey]; ok {
		m.add(t.topologyKey, v, int64(weight*multiplier))
	}
}

func (m scoreMap) terms(ts []weightedTerm, pod *corev1.Pod, nsLabels labels.Set, node *corev1.Node, multiplier int32) {
	for i := range ts {
		m.term(&ts[i].affinityTerm, ts[i].weight, pod, nsLabels, node, multiplier)
	}
}

// preScoreState is what Score reads.
type preScoreState struct {
	topologyScore scoreMap
}

// Clone returns the state itself: nothing changes it after PreScore.
func (s *preScoreState) Clone() framework.StateData { return s }

// PreScore sums, per topology pair, the weights of: the pod's preferred affinity (+) and anti-affinity (-)
// terms matched by existing pods; existing pods' required affinity terms matching the pod
// (+hardPodAffinityWeight); existing pods' preferred affinity (+) and anti-affinity (-) terms matching the
// pod.
func (pl *InterPodAffinity) PreScore(ctx context.Context, cs *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	a := pod.Spec.Affinity
	hasPreferred := a != nil && ((a.PodAffinity != nil && len(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0) ||
		(a.PodAntiAffinity != nil && len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0))
	if pl.ignorePreferredTermsOfExistingPods && !hasPreferred {
		return framework.NewStatus(framework.Skip)
	}
	lister := pl.handle.SnapshotSharedLister().NodeInfos()
	// Unless the pod has preferred terms, only pods with affinity terms of their own can contribute.
	var nodes []*framework.NodeInfo
	if hasPreferred {
		nodes = lister.List()
	} else {
		nodes = lister.HavePodsWithAffinityList()
	}
	terms, err := pl.incomingTerms(pod)
	if err != nil {
		return framework.AsStatus(fmt.Errorf("failed to parse pod: %w", err))
	}
	nsLabels := namespaceLabels(pod.Namespace, pl.nsLister)

	perNode := make([]scoreMap, len(nodes))
	parallelizeUntil(ctx, len(nodes), func(n int) {
		node := nodes[n].Node
		if len(node.Labels) == 0 {
			return
		}
		pods := nodes[n].PodsWithAffinity
		if hasPreferred {
			pods = nodes[n].Pods
		}
		var m scoreMap
		for _, pi := range pods {
			if m == nil {
				m = scoreMap{}
			}
			pl.processExistingPod(m, terms, nsLabels, pi, node, pod)
		}
		if len(m) > 0 {
			perNode[n] = m
		}
	})
	if err := ctx.Err(); err != nil {
		return framework.AsStatus(err)
	}
	s := &preScoreState{topologyScore: scoreMap{}}
	for _, m := range perNode {
		s.topologyScore.merge(m)
	}
	if len(s.topologyScore) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	cs.Write(preScoreStateKey, s)
	return nil
}

func (pl *InterPodAffinity) processExistingPod(m scoreMap, incoming *podTerms, nsLabels labels.Set, existing *framework.PodInfo, node *corev1.Node, pod *corev1.Pod) {
	// The incoming pod's terms have their namespaceSelectors resolved: no namespace labels needed.
	m.terms(incoming.preferredAffinity, existing.Pod, nil, node, 1)
	m.terms(incoming.preferredAnti, existing.Pod, nil, node, -1)
	if a := existing.Pod.Spec.Affinity; a == nil || (a.PodAffinity == nil && a.PodAntiAffinity == nil) {
		return
	}
	et := pl.terms.get(existing.Pod)
	if pl.hardPodAffinityWeight > 0 {
		for i := range et.requiredAffinity {
			m.term(&et.requiredAffinity[i], pl.hardPodAffinityWeight, pod, nsLabels, node, 1)
		}
	}
	m.terms(et.preferredAffinity, pod, nsLabels, node, 1)
	m.terms(et.preferredAnti, pod, nsLabels, node, -1)
}

func getPreScoreState(cs *framework.CycleState) (*preScoreState, error) {
	return framework.ReadState[*preScoreState](cs, preScoreStateKey)
}

// Score sums the weights of the node's topology pairs: positive for affinity, negative for anti-affinity.
func (pl *InterPodAffinity) Score(_ context.Context, cs *framework.CycleState, _ *corev1.Pod, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	node := nodeInfo.Node
	if node == nil {
		return 0, framework.NewStatus(framework.Error, "node not found")
	}
	s, err := getPreScoreState(cs)
	if err != nil {
		return 0, framework.AsStatus(err)
	}
	var score int64
	for k, vs := range s.topologyScore {
		if v, ok := node.Labels[k]; ok {
			score += vs[v]
		}
	}
	return score, nil
}

// NormalizeScore maps scores linearly from [min, max] to [0, MaxNodeScore] (all 0 when they are equal).
func (pl *InterPodAffinity) NormalizeScore(_ context.Context, cs *framework.CycleState, _ *corev1.Pod, scores framework.NodeScoreList) *framework.Status {
	s, err := getPreScoreState(cs)
	if err != nil {
		return framework.AsStatus(err)
	}
	if len(s.topologyScore) == 0 {
		return nil
	}
	var minCount int64 = math.MaxInt64
	var maxCount int64 = math.MinInt64
	for i := range scores {
		minCount = min(minCount, scores[i].Score)
		maxCount = max(maxCount, scores[i].Score)
	}
	diff := maxCount - minCount
	for i := range scores {
		f := float64(0)
		if diff > 0 {
			f = float64(framework.MaxNodeScore) * (float64(scores[i].Score-minCount) / float64(diff))
		}
		scores[i].Score = int64(f)
	}
	return nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *InterPodAffinity) ScoreExtensions() framework.ScoreExtensions { return pl }
