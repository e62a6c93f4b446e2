package interpodaffinity

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// affinityTerm is a PodAffinityTerm with its selectors parsed.
type affinityTerm struct {
	// namespaces the term covers: its .namespaces, or the owning pod's namespace when it names none and has
	// no namespaceSelector.
	namespaces sets.Set[string]
	// allNamespaces: an empty namespaceSelector ({}), which selects every namespace.
	allNamespaces bool
	// nsSelector selects further namespaces by their labels; nil when there is none (or it was resolved
	// into namespaces).
	nsSelector  labels.Selector
	selector    labels.Selector
	topologyKey string
}

type weightedTerm struct {
	affinityTerm
	weight int32
}

// matches reports whether pod is covered by the term; nsLabels are the labels of pod's namespace (nil when
// the term's namespaceSelector was already resolved into namespaces, or is unknown).
func (t *affinityTerm) matches(pod *corev1.Pod, nsLabels labels.Set) bool {
	if t.allNamespaces || t.namespaces.Has(pod.Namespace) || (t.nsSelector != nil && t.nsSelector.Matches(nsLabels)) {
		return t.selector.Matches(labels.Set(pod.Labels))
	}
	return false
}

// podTerms are one pod's parsed inter-pod affinity terms.
type podTerms struct {
	pod               *corev1.Pod
	requiredAffinity  []affinityTerm
	requiredAnti      []affinityTerm
	preferredAffinity []weightedTerm
	preferredAnti     []weightedTerm
}

// parsePodTerms parses pod's terms. Without a namespace lister a non-empty namespaceSelector selects
// nothing (see the package comment).
func parsePodTerms(pod *corev1.Pod, haveNsLister bool) (*podTerms, error) {
	pt := &podTerms{pod: pod}
	a := pod.Spec.Affinity
	if a == nil {
		return pt, nil
	}
	var err error
	if a.PodAffinity != nil {
		if pt.requiredAffinity, err = parseTerms(pod, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, haveNsLister); err != nil {
			return nil, err
		}
		if pt.preferredAffinity, err = parseWeighted(pod, a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution, haveNsLister); err != nil {
			return nil, err
		}
	}
	if a.PodAntiAffinity != nil {
		if pt.requiredAnti, err = parseTerms(pod, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, haveNsLister); err != nil {
			return nil, err
		}
		if pt.preferredAnti, err = parseWeighted(pod, a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, haveNsLister); err != nil {
			return nil, err
		}
	}
	return pt, nil
}

func parseTerms(pod *corev1.Pod, ts []corev1.PodAffinityTerm, haveNsLister bool) ([]affinityTerm, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]affinityTerm, 0, len(ts))
	for i := range ts {
		t, err := newTerm(pod, &ts[i], haveNsLister)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func parseWeighted(pod *corev1.Pod, ts []corev1.WeightedPodAffinityTerm, haveNsLister bool) ([]weightedTerm, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]weightedTerm, 0, len(ts))
	for i := range ts {
		t, err := newTerm(pod, &ts[i].PodAffinityTerm, haveNsLister)
		if err != nil {
			return nil, err
		}
		out = append(out, weightedTerm{affinityTerm: t, weight: ts[i].Weight})
	}
	return out, nil
}

func newTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm, haveNsLister bool) (affinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return affinityTerm{}, err
	}
	// matchLabelKeys / mismatchLabelKeys: ANDed into the selector with the owning pod's values (the API
	// server does the same at creation; repeating an identical requirement changes nothing). A nil
	// labelSelector matches nothing and is left alone.
	if t.LabelSelector != nil && (len(t.MatchLabelKeys) > 0 || len(t.MismatchLabelKeys) > 0) {
		var reqs []labels.Requirement
		add := func(keys []string, op selection.Operator) error {
			for _, k := range keys {
				v, ok := pod.Labels[k]
				if !ok {
					continue
				}
				r, err := labels.NewRequirement(k, op, []string{v})
				if err != nil {
					return err
				}
				reqs = append(reqs, *r)
			}
			return nil
		}
		if err := add(t.MatchLabelKeys, selection.In); err != nil {
			return affinityTerm{}, err
		}
		if err := add(t.MismatchLabelKeys, selection.NotIn); err != nil {
			return affinityTerm{}, err
		}
		if len(reqs) > 0 {
			sel = sel.Add(reqs...)
		}
	}
	var ns sets.Set[string]
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		ns = sets.New(pod.Namespace)
	} else {
		ns = sets.New(t.Namespaces...)
	}
	at := affinityTerm{namespaces: ns, selector: sel, topologyKey: t.TopologyKey}
	if t.NamespaceSelector != nil {
		nsSel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			return affinityTerm{}, err
		}
		switch {
		case nsSel.Empty():
			at.allNamespaces = true
		case haveNsLister:
			at.nsSelector = nsSel
		}
	}
	return at, nil
}

// resolveNamespaces turns an incoming pod's namespaceSelector into namespace names (upstream does the same
// so that matching existing pods needs no namespace lookups). An empty selector (all namespaces) is kept.
func resolveNamespaces(t *affinityTerm, nsLister corelisters.NamespaceLister) error {
	if t.nsSelector == nil || nsLister == nil {
		return nil
	}
	nss, err := nsLister.List(t.nsSelector)
	if err != nil {
		return err
	}
	for _, n := range nss {
		t.namespaces.Insert(n.Name)
	}
	t.nsSelector = nil
	return nil
}

// namespaceLabels returns a copy of the labels of namespace ns (nil when unknown).
func namespaceLabels(ns string, nsLister corelisters.NamespaceLister) labels.Set {
	if nsLister == nil {
		return nil
	}
	n, err := nsLister.Get(ns)
	if err != nil {
		return nil
	}
	return labels.Merge(n.Labels, nil)
}

// termCache keeps existing pods' parsed terms across cycles, so that thousands of pods with (anti-)affinity
// are not re-parsed for every pod scheduled. An entry is valid for the exact *corev1.Pod it was parsed from
// (the scheduler replaces, never mutates, a pod object). Entries live in two generations: each rotation
// drops what was not used since the previous one.
type termCache struct {
	haveNsLister bool
	mu           sync.RWMutex
	cur, old     map[types.UID]*podTerms
	cycles       int
}

// cacheRotateEvery is how many cycles a generation lasts.
const cacheRotateEvery = 64

func newTermCache(haveNsLister bool) *termCache {
	return &termCache{haveNsLister: haveNsLister, cur: map[types.UID]*podTerms{}, old: map[types.UID]*podTerms{}}
}

// cycle is called once per scheduling cycle.
func (c *termCache) cycle() {
	c.mu.Lock()
	c.cycles++
	if c.cycles >= cacheRotateEvery {
		c.old, c.cur, c.cycles = c.cur, make(map[types.UID]*podTerms, len(c.cur)), 0
	}
	c.mu.Unlock()
}

// get returns pod's parsed terms; a pod whose terms do not parse has none.
func (c *termCache) get(pod *corev1.Pod) *podTerms {
	if pod.UID == "" {
		return c.parse(pod)
	}
	c.mu.RLock()
	e, promote := c.cur[pod.UID], false
	if e == nil || e.pod != pod {
		e, promote = c.old[pod.UID], true
	}
	c.mu.RUnlock()
	if e == nil || e.pod != pod {
		e = c.parse(pod)
	} else if !promote {
		return e
	}
	c.mu.Lock()
	c.cur[pod.UID] = e
	c.mu.Unlock()
	return e
}

func (c *termCache) parse(pod *corev1.Pod) *podTerms {
	pt, err := parsePodTerms(pod, c.haveNsLister)
	if err != nil {
		return &podTerms{pod: pod}
	}
	return pt
}

// matchesAll reports whether pod matches every term (false for no terms). The terms are an incoming pod's,
// with namespaceSelectors resolved, so no namespace labels are needed.
func matchesAll(terms []affinityTerm, pod *corev1.Pod) bool {
	if len(terms) == 0 {
		return false
	}
	for i := range terms {
		if !terms[i].matches(pod, nil) {
			return false
		}
	}
	return true
}
