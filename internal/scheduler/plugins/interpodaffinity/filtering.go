package interpodaffinity

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"skiff/internal/scheduler/framework"
)

const preFilterStateKey framework.StateKey = "PreFilter" + Name

type topologyPair struct {
	key   string
	value string
}

// topologyCounts counts matching pods per topology pair; entries never hold 0.
type topologyCounts map[topologyPair]int64

func (m topologyCounts) add(node *corev1.Node, key string, delta int64) {
	v, ok := node.Labels[key]
	if !ok {
		return
	}
	p := topologyPair{key, v}
	if m[p] += delta; m[p] == 0 {
		delete(m, p)
	}
}

func (m topologyCounts) clone() topologyCounts {
	c := make(topologyCounts, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// pairCount is one node's contribution, gathered in parallel and merged afterwards.
type pairCount struct {
	pair  topologyPair
	count int64
}

func appendPair(list []pairCount, node *corev1.Node, key string) []pairCount {
	if v, ok := node.Labels[key]; ok {
		list = append(list, pairCount{topologyPair{key, v}, 1})
	}
	return list
}

func (m topologyCounts) merge(list []pairCount) {
	for _, pc := range list {
		m[pc.pair] += pc.count
	}
}

// preFilterState is what Filter reads.
type preFilterState struct {
	// mu guards the counts: preemption's AddPod/RemovePod write them.
	mu sync.RWMutex
	// existingAntiAffinityCounts: existing pods whose required anti-affinity terms match the incoming pod,
	// per topology pair of their node.
	existingAntiAffinityCounts topologyCounts
	// existingAntiAffinityKeys are the topology keys appearing in existingAntiAffinityCounts (possibly with
	// stale ones after RemovePod), so that Filter looks up only those instead of every node label.
	existingAntiAffinityKeys []string
	// affinityCounts: existing pods matching all of the incoming pod's required affinity terms.
	affinityCounts topologyCounts
	// antiAffinityCounts: existing pods matching the incoming pod's required anti-affinity terms.
	antiAffinityCounts topologyCounts
	// terms are the incoming pod's, namespaceSelectors resolved; never changed after PreFilter.
	terms *podTerms
	// nsLabels are the labels of the incoming pod's namespace.
	nsLabels labels.Set
	// selfAffinity: the incoming pod matches all its own required affinity terms.
	selfAffinity bool
}

// Clone deep-copies the counts.
func (s *preFilterState) Clone() framework.StateData {
	if s == nil {
		return (*preFilterState)(nil)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &preFilterState{
		existingAntiAffinityCounts: s.existingAntiAffinityCounts.clone(),
		existingAntiAffinityKeys:   append([]string(nil), s.existingAntiAffinityKeys...),
		affinityCounts:             s.affinityCounts.clone(),
		antiAffinityCounts:         s.antiAffinityCounts.clone(),
		terms:                      s.terms,
		nsLabels:                   s.nsLabels,
		selfAffinity:               s.selfAffinity,
	}
}

// incomingTerms parses the incoming pod's terms and resolves their namespaceSelectors.
func (pl *InterPodAffinity) incomingTerms(pod *corev1.Pod) (*podTerms, error) {
	pt, err := parsePodTerms(pod, pl.nsLister != nil)
	if err != nil {
		return nil, err
	}
	for _, ts := range [][]affinityTerm{pt.requiredAffinity, pt.requiredAnti} {
		for i := range ts {
			if err := resolveNamespaces(&ts[i], pl.nsLister); err != nil {
				return nil, err
			}
		}
	}
	for _, ts := range [][]weightedTerm{pt.preferredAffinity, pt.preferredAnti} {
		for i := range ts {
			if err := resolveNamespaces(&ts[i].affinityTerm, pl.nsLister); err != nil {
				return nil, err
			}
		}
	}
	return pt, nil
}

// PreFilter counts, per topology pair, the existing pods whose required anti-affinity matches the pod and
// the existing pods matching the pod's required affinity and anti-affinity terms. It returns Skip when the
// pod has no required terms and no existing pod's anti-affinity concerns it.
func (pl *InterPodAffinity) PreFilter(ctx context.Context, cs *framework.CycleState, pod *corev1.Pod) (*framework.PreFilterResult, *framework.Status) {
	pl.terms.cycle()
	terms, err := pl.incomingTerms(pod)
	if err != nil {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("parsing pod: %+v", err))
	}
	lister := pl.handle.SnapshotSharedLister().NodeInfos()
	s := &preFilterState{terms: terms, nsLabels: namespaceLabels(pod.Namespace, pl.nsLister)}
	s.existingAntiAffinityCounts = pl.existingAntiAffinityCounts(ctx, pod, s.nsLabels, lister.HavePodsWithRequiredAntiAffinityList())
	for p := range s.existingAntiAffinityCounts {
		s.addExistingKey(p.key)
	}
	if len(s.existingAntiAffinityCounts) == 0 && len(terms.requiredAffinity) == 0 && len(terms.requiredAnti) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	s.affinityCounts, s.antiAffinityCounts = incomingAffinityCounts(ctx, terms, lister.List())
	if err := ctx.Err(); err != nil {
		return nil, framework.AsStatus(err)
	}
	s.selfAffinity = matchesAll(terms.requiredAffinity, pod)
	cs.Write(preFilterStateKey, s)
	return nil, nil
}

// existingAntiAffinityCounts looks at the pods with required anti-affinity only.
func (pl *InterPodAffinity) existingAntiAffinityCounts(ctx context.Context, pod *corev1.Pod, nsLabels labels.Set, nodes []*framework.NodeInfo) topologyCounts {
	perNode := make([][]pairCount, len(nodes))
	parallelizeUntil(ctx, len(nodes), func(n int) {
		node := nodes[n].Node
		var list []pairCount
		for _, pi := range nodes[n].PodsWithRequiredAntiAffinity {
			ts := pl.terms.get(pi.Pod).requiredAnti
			for i := range ts {
				if ts[i].matches(pod, nsLabels) {
					list = appendPair(list, node, ts[i].topologyKey)
				}
			}
		}
		perNode[n] = list
	})
	out := topologyCounts{}
	for _, l := range perNode {
		out.merge(l)
	}
	return out
}

// incomingAffinityCounts looks at every pod of every node.
func incomingAffinityCounts(ctx context.Context, terms *podTerms, nodes []*framework.NodeInfo) (topologyCounts, topologyCounts) {
	aff, anti := topologyCounts{}, topologyCounts{}
	if len(terms.requiredAffinity) == 0 && len(terms.requiredAnti) == 0 {
		return aff, anti
	}
	affPerNode := make([][]pairCount, len(nodes))
	antiPerNode := make([][]pairCount, len(nodes))
	parallelizeUntil(ctx, len(nodes), func(n int) {
		node := nodes[n].Node
		var a, b []pairCount
		for _, pi := range nodes[n].Pods {
			if matchesAll(terms.requiredAffinity, pi.Pod) {
				for i := range terms.requiredAffinity {
					a = appendPair(a, node, terms.requiredAffinity[i].topologyKey)
				}
			}
			for i := range terms.requiredAnti {
				if terms.requiredAnti[i].matches(pi.Pod, nil) {
					b = appendPair(b, node, terms.requiredAnti[i].topologyKey)
				}
			}
		}
		affPerNode[n], antiPerNode[n] = a, b
	})
	for n := range nodes {
		aff.merge(affPerNode[n])
		anti.merge(antiPerNode[n])
	}
	return aff, anti
}

// PreFilterExtensions implements framework.PreFilterWithExtensions.
func (pl *InterPodAffinity) PreFilterExtensions() framework.PreFilterExtensions { return pl }

// AddPod updates the counts as if podToAdd ran on nodeInfo's node (preemption simulation).
func (pl *InterPodAffinity) AddPod(_ context.Context, cs *framework.CycleState, _ *corev1.Pod, podToAdd *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	return pl.updateWithPod(cs, podToAdd, nodeInfo, 1)
}

// RemovePod updates the counts as if podToRemove left nodeInfo's node (preemption simulation).
func (pl *InterPodAffinity) RemovePod(_ context.Context, cs *framework.CycleState, _ *corev1.Pod, podToRemove *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	return pl.updateWithPod(cs, podToRemove, nodeInfo, -1)
}

func (pl *InterPodAffinity) updateWithPod(cs *framework.CycleState, pi *framework.PodInfo, nodeInfo *framework.NodeInfo, delta int64) *framework.Status {
	s, err := getPreFilterState(cs)
	if errors.Is(err, framework.ErrNotFound) {
		// PreFilter returned Skip: there is nothing to keep up to date.
		return nil
	}
	if err != nil {
		return framework.AsStatus(err)
	}
	if s == nil || pi == nil || nodeInfo == nil || nodeInfo.Node == nil {
		return nil
	}
	node, pod := nodeInfo.Node, pi.Pod
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := pod.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		ts := pl.terms.get(pod).requiredAnti
		for i := range ts {
			if ts[i].matches(s.terms.pod, s.nsLabels) {
				s.existingAntiAffinityCounts.add(node, ts[i].topologyKey, delta)
				s.addExistingKey(ts[i].topologyKey)
			}
		}
	}
	if matchesAll(s.terms.requiredAffinity, pod) {
		for i := range s.terms.requiredAffinity {
			s.affinityCounts.add(node, s.terms.requiredAffinity[i].topologyKey, delta)
		}
	}
	for i := range s.terms.requiredAnti {
		if s.terms.requiredAnti[i].matches(pod, nil) {
			s.antiAffinityCounts.add(node, s.terms.requiredAnti[i].topologyKey, delta)
		}
	}
	return nil
}

func getPreFilterState(cs *framework.CycleState) (*preFilterState, error) {
	return framework.ReadState[*preFilterState](cs, preFilterStateKey)
}

// satisfyExistingPodsAntiAffinity: no existing pod's required anti-affinity matching the pod covers a
// topology pair of this node.
func (s *preFilterState) satisfyExistingPodsAntiAffinity(node *corev1.Node) bool {
	if len(s.existingAntiAffinityCounts) == 0 {
		return true
	}
	for _, k := range s.existingAntiAffinityKeys {
		if v, ok := node.Labels[k]; ok && s.existingAntiAffinityCounts[topologyPair{k, v}] > 0 {
			return false
		}
	}
	return true
}

func (s *preFilterState) addExistingKey(k string) {
	for _, e := range s.existingAntiAffinityKeys {
		if e == k {
			return
		}
	}
	s.existingAntiAffinityKeys = append(s.existingAntiAffinityKeys, k)
}

// satisfyPodAntiAffinity: no existing pod matching one of the pod's anti-affinity terms shares that term's
// topology with this node.
func (s *preFilterState) satisfyPodAntiAffinity(node *corev1.Node) bool {
	if len(s.antiAffinityCounts) == 0 {
		return true
	}
	for i := range s.terms.requiredAnti {
		k := s.terms.requiredAnti[i].topologyKey
		if v, ok := node.Labels[k]; ok && s.antiAffinityCounts[topologyPair{k, v}] > 0 {
			return false
		}
	}
	return true
}

// satisfyPodAffinity: the node has every term's topology key, and for every term a pod matching all terms
// runs in the node's domain. Exception: when no pod anywhere matches all terms and the pod matches them
// itself, it is the first of a group with affinity to itself and may go to any node with all the keys.
func (s *preFilterState) satisfyPodAffinity(node *corev1.Node) bool {
	found := true
	for i := range s.terms.requiredAffinity {
		k := s.terms.requiredAffinity[i].topologyKey
		v, ok := node.Labels[k]
		if !ok {
			return false
		}
		if s.affinityCounts[topologyPair{k, v}] <= 0 {
			found = false
		}
	}
	if found {
		return true
	}
	return len(s.affinityCounts) == 0 && s.selfAffinity
}

// Filter enforces the pod's required affinity (UnschedulableAndUnresolvable: evicting pods cannot help),
// its required anti-affinity and existing pods' required anti-affinity (Unschedulable: preemption may).
func (pl *InterPodAffinity) Filter(_ context.Context, cs *framework.CycleState, _ *corev1.Pod, nodeInfo *framework.NodeInfo) *framework.Status {
	node := nodeInfo.Node
	if node == nil {
		return framework.NewStatus(framework.Error, "node not found")
	}
	s, err := getPreFilterState(cs)
	if err != nil {
		return framework.AsStatus(err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.satisfyPodAffinity(node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch)
	}
	if !s.satisfyPodAntiAffinity(node) {
		return framework.NewStatus(framework.Unschedulable, ErrReasonAntiAffinityRulesNotMatch)
	}
	if !s.satisfyExistingPodsAntiAffinity(node) {
		return framework.NewStatus(framework.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch)
	}
	return nil
}
