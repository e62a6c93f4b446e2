package podtopologyspread

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"skiff/internal/scheduler/framework"
)

// constraint is a TopologySpreadConstraint with its selector parsed and its optional fields resolved.
type constraint struct {
	maxSkew            int32
	topologyKey        string
	selector           labels.Selector
	minDomains         int32
	nodeAffinityPolicy corev1.NodeInclusionPolicy
	nodeTaintsPolicy   corev1.NodeInclusionPolicy
}

// parseConstraints keeps the constraints whose whenUnsatisfiable is action. matchLabelKeys are ANDed into
// the selector with the pod's values for those keys (keys the pod lacks are ignored); doing it again when
// the API server already merged them only repeats an identical requirement.
func parseConstraints(cs []corev1.TopologySpreadConstraint, podLabels map[string]string, action corev1.UnsatisfiableConstraintAction) ([]constraint, error) {
	var out []constraint
	for i := range cs {
		c := &cs[i]
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, err
		}
		if len(c.MatchLabelKeys) > 0 {
			sel = withMatchLabelKeys(sel, c.MatchLabelKeys, podLabels)
		}
		tc := constraint{
			maxSkew:            c.MaxSkew,
			topologyKey:        c.TopologyKey,
			selector:           sel,
			minDomains:         1,
			nodeAffinityPolicy: corev1.NodeInclusionPolicyHonor,
			nodeTaintsPolicy:   corev1.NodeInclusionPolicyIgnore,
		}
		if c.MinDomains != nil {
			tc.minDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil {
			tc.nodeAffinityPolicy = *c.NodeAffinityPolicy
		}
		if c.NodeTaintsPolicy != nil {
			tc.nodeTaintsPolicy = *c.NodeTaintsPolicy
		}
		out = append(out, tc)
	}
	return out, nil
}

func withMatchLabelKeys(sel labels.Selector, keys []string, podLabels map[string]string) labels.Selector {
	set := labels.Set{}
	for _, k := range keys {
		if v, ok := podLabels[k]; ok {
			set[k] = v
		}
	}
	if len(set) == 0 {
		return sel
	}
	reqs, selectable := sel.Requirements()
	if !selectable {
		// labels.Nothing() (a nil labelSelector) stays Nothing.
		return sel
	}
	merged := labels.SelectorFromSet(set)
	for _, r := range reqs {
		merged = merged.Add(r)
	}
	return merged
}

// nodeHasAllKeys reports whether the node carries every constraint's topology key.
func nodeHasAllKeys(nodeLabels map[string]string, cs []constraint) bool {
	for i := range cs {
		if _, ok := nodeLabels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}

// nodeIncluded applies the constraint's nodeAffinityPolicy and nodeTaintsPolicy: whether the node's domain
// counts at all for this pod.
func (c *constraint) nodeIncluded(pod *corev1.Pod, node *corev1.Node, required nodeaffinity.RequiredNodeAffinity) bool {
	if c.nodeAffinityPolicy == corev1.NodeInclusionPolicyHonor {
		// Parse errors are ignored (the node is kept), as upstream does.
		if ok, _ := required.Match(node); !ok {
			return false
		}
	}
	if c.nodeTaintsPolicy == corev1.NodeInclusionPolicyHonor && hasUntoleratedScheduleTaint(node.Spec.Taints, pod.Spec.Tolerations) {
		return false
	}
	return true
}

// hasUntoleratedScheduleTaint: a NoSchedule or NoExecute taint none of the tolerations tolerates.
func hasUntoleratedScheduleTaint(taints []corev1.Taint, tolerations []corev1.Toleration) bool {
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		tolerated := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(klog.Logger{}, t, false) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return true
		}
	}
	return false
}

// countMatching counts the pods in namespace ns that the selector matches, skipping terminating pods. An
// empty (match-everything) selector counts nothing, as upstream.
func countMatching(pods []*framework.PodInfo, sel labels.Selector, ns string) int {
	if sel.Empty() {
		return 0
	}
	n := 0
	for _, pi := range pods {
		p := pi.Pod
		if p.DeletionTimestamp != nil || p.Namespace != ns {
			continue
		}
		if sel.Matches(labels.Set(p.Labels)) {
			n++
		}
	}
	return n
}

// getConstraints returns the pod's constraints for action, or the default constraints when the pod has none.
func (pl *PodTopologySpread) getConstraints(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) ([]constraint, error) {
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		return parseConstraints(pod.Spec.TopologySpreadConstraints, pod.Labels, action)
	}
	return pl.buildDefaultConstraints(pod, action)
}

// buildDefaultConstraints applies the default constraints with a selector deduced from the pod's workload.
func (pl *PodTopologySpread) buildDefaultConstraints(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) ([]constraint, error) {
	if len(pl.defaultConstraints) == 0 {
		return nil, nil
	}
	cs, err := parseConstraints(pl.defaultConstraints, pod.Labels, action)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	var sel labels.Selector
	if pl.listers != nil {
		sel = pl.listers.defaultSelector(pod)
	} else {
		sel = ownerLabelsSelector(pod)
	}
	if sel == nil || sel.Empty() {
		return nil, nil
	}
	for i := range cs {
		cs[i].selector = sel
	}
	return cs, nil
}

var (
	rcGVK = corev1.SchemeGroupVersion.WithKind("ReplicationController")
	rsGVK = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	ssGVK = appsv1.SchemeGroupVersion.WithKind("StatefulSet")
)

func controllerGVK(pod *corev1.Pod) (*metav1.OwnerReference, schema.GroupVersionKind, bool) {
	owner := metav1.GetControllerOfNoCopy(pod)
	if owner == nil {
		return nil, schema.GroupVersionKind{}, false
	}
	gv, err := schema.ParseGroupVersion(owner.APIVersion)
	if err != nil {
		return nil, schema.GroupVersionKind{}, false
	}
	return owner, gv.WithKind(owner.Kind), true
}

// defaultSelector is the union of the selectors of the Services selecting the pod and of its controlling
// ReplicationController, ReplicaSet or StatefulSet (upstream's behaviour).
func (l *workloadListers) defaultSelector(pod *corev1.Pod) labels.Selector {
	set := labels.Set{}
	if svcs, err := l.services.Services(pod.Namespace).List(labels.Everything()); err == nil {
		for _, s := range svcs {
			if s.Spec.Selector == nil {
				continue
			}
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				set = labels.Merge(set, s.Spec.Selector)
			}
		}
	}
	sel := labels.SelectorFromSet(set)
	owner, gvk, ok := controllerGVK(pod)
	if !ok {
		return sel
	}
	var ls *metav1.LabelSelector
	switch gvk {
	case rcGVK:
		if rc, err := l.rcs.ReplicationControllers(pod.Namespace).Get(owner.Name); err == nil {
			set = labels.Merge(set, rc.Spec.Selector)
			sel = labels.SelectorFromSet(set)
		}
	case rsGVK:
		if rs, err := l.replicaSets.ReplicaSets(pod.Namespace).Get(owner.Name); err == nil {
			ls = rs.Spec.Selector
		}
	case ssGVK:
		if ss, err := l.statefulSets.StatefulSets(pod.Namespace).Get(owner.Name); err == nil {
			ls = ss.Spec.Selector
		}
	}
	if ls != nil {
		if other, err := metav1.LabelSelectorAsSelector(ls); err == nil {
			if reqs, ok := other.Requirements(); ok {
				sel = sel.Add(reqs...)
			}
		}
	}
	return sel
}

// perPodLabels differ between pods of one workload and so are left out of the fallback selector.
var perPodLabels = map[string]bool{
	appsv1.StatefulSetPodNameLabel:        true,
	appsv1.PodIndexLabel:                  true,
	appsv1.ControllerRevisionHashLabelKey: true,
}

// ownerLabelsSelector is the fallback selector when no workload listers are available: the pod's own labels
// (minus per-pod ones) for pods controlled by a ReplicationController, ReplicaSet or StatefulSet.
func ownerLabelsSelector(pod *corev1.Pod) labels.Selector {
	_, gvk, ok := controllerGVK(pod)
	if !ok || (gvk != rcGVK && gvk != rsGVK && gvk != ssGVK) {
		return nil
	}
	set := labels.Set{}
	for k, v := range pod.Labels {
		if !perPodLabels[k] {
			set[k] = v
		}
	}
	if len(set) == 0 {
		return nil
	}
	return labels.SelectorFromSet(set)
}

// parallelizeUntil is the framework's per-node parallel loop.
var parallelizeUntil = framework.ParallelizeUntil
