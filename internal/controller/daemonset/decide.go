package daemonset

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff/internal/controller/controllerutil"
)

func terminating(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }

func updated(p *corev1.Pod, hash string) bool {
	return p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash
}

// sortPods puts bound pods first, then the oldest, then by name (the pod that stays of several).
func sortPods(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if (a.Spec.NodeName != "") != (b.Spec.NodeName != "") {
			return a.Spec.NodeName != ""
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// nodeAction is what manage does on one node.
type nodeAction struct {
	create    bool
	delete    []*corev1.Pod
	failed    []*corev1.Pod // deleted because they failed (a FailedDaemonPod event each)
	succeeded []*corev1.Pod // deleted because they completed (a SucceededDaemonPod event each)
	backoff   bool          // a failed pod waits for its back-off before it is replaced
}

// manageNode decides, as upstream, what happens to the daemon pods of one node: a node that should run the
// pod and has none gets one; on a node that may keep its pod, failed pods are deleted (when the back-off
// allows: mayDeleteFailed) and replaced, completed ones deleted, and of several live pods only the oldest
// stays (with surge, the oldest updated pod, and the oldest old one while the updated one is not yet
// available); a node that may not keep its pod loses every one.
func manageNode(run, keep bool, pods []*corev1.Pod, hash string, surge bool, minReady int32, now time.Time, mayDeleteFailed func(*corev1.Pod) bool) nodeAction {
	var act nodeAction
	switch {
	case run && len(pods) == 0:
		act.create = true
	case keep:
		var alive []*corev1.Pod
		for _, p := range pods {
			switch {
			case terminating(p):
			case p.Status.Phase == corev1.PodFailed:
				if mayDeleteFailed(p) {
					act.delete = append(act.delete, p)
					act.failed = append(act.failed, p)
				} else {
					act.backoff = true
				}
			case p.Status.Phase == corev1.PodSucceeded:
				act.delete = append(act.delete, p)
				act.succeeded = append(act.succeeded, p)
			default:
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 {
			act.create = run && !act.backoff
			return act
		}
		sortPods(alive)
		if !surge {
			act.delete = append(act.delete, alive[1:]...)
			return act
		}
		var newest, oldest *corev1.Pod // the oldest updated pod, the oldest outdated pod
		for _, p := range alive {
			switch {
			case updated(p, hash) && newest == nil:
				newest = p
			case !updated(p, hash) && oldest == nil:
				oldest = p
			}
		}
		stay := map[*corev1.Pod]bool{}
		switch {
		case newest == nil:
			stay[oldest] = true
		case oldest != nil && !controllerutil.Available(newest, minReady, now) && controllerutil.Available(oldest, minReady, now):
			stay[newest], stay[oldest] = true, true
		default:
			stay[newest] = true
		}
		for _, p := range alive {
			if !stay[p] {
				act.delete = append(act.delete, p)
			}
		}
	default:
		for _, p := range pods {
			if !terminating(p) {
				act.delete = append(act.delete, p)
			}
		}
	}
	return act
}

// scaled resolves an int-or-percent against n, rounding up; def when unset.
func scaled(v *intstr.IntOrString, n, def int) int {
	if v == nil {
		return def
	}
	out, err := intstr.GetScaledValueFromIntOrPercent(v, n, true)
	if err != nil {
		return def
	}
	return out
}

// fenceposts resolves maxSurge and maxUnavailable against the nodes that should run the pod; both zero
// means one unavailable, as upstream.
func fenceposts(ds *appsv1.DaemonSet, desired int) (surge, unavailable int) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil {
		return 0, 1
	}
	surge, unavailable = scaled(ru.MaxSurge, desired, 0), scaled(ru.MaxUnavailable, desired, 1)
	if desired > 0 && surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// allowsSurge: the strategy may put a new pod next to the old one.
func allowsSurge(ds *appsv1.DaemonSet) bool {
	s, _ := fenceposts(ds, 1)
	return s > 0
}

// rollingUpdate decides one step of a RollingUpdate over nodeToPods (every node that should run the pod has
// an entry, maybe empty). Without surge it deletes outdated pods, unavailable ones at once and available ones
// while fewer than maxUnavailable nodes are unavailable; manage then creates the replacements. With surge it
// creates updated pods next to outdated ones (at once where the old pod is unavailable, else within
// maxSurge) and deletes an outdated pod once its node's updated pod is available. shouldRun tells which
// nodes may get a new pod.
func rollingUpdate(nodeToPods map[string][]*corev1.Pod, shouldRun map[string]bool, hash string, maxSurge, maxUnavailable int, minReady int32, now time.Time) (del []*corev1.Pod, createOn []string) {
	names := make([]string, 0, len(nodeToPods))
	for n := range nodeToPods {
		names = append(names, n)
	}
	sort.Strings(names)
	if maxSurge == 0 {
		unavailable := 0
		var replace, candidates []*corev1.Pod
		for _, node := range names {
			newPod, oldPod, ok := podsOnNode(nodeToPods[node], hash)
			switch {
			case !ok || (newPod == nil && oldPod == nil) || (newPod != nil && oldPod != nil):
				unavailable++ // manage sorts this node out; count it as unavailable meanwhile
			case newPod != nil:
				if !controllerutil.Available(newPod, minReady, now) {
					unavailable++
				}
			case !controllerutil.Available(oldPod, minReady, now):
				replace = append(replace, oldPod)
			default:
				candidates = append(candidates, oldPod)
			}
		}
		budget := min(max(maxUnavailable-unavailable, 0), len(candidates))
		return append(replace, candidates[:budget]...), nil
	}
	surged := 0
	var allowed, candidates []string
	for _, node := range names {
		newPod, oldPod, ok := podsOnNode(nodeToPods[node], hash)
		switch {
		case !ok:
			surged++
		case oldPod == nil:
		case newPod == nil:
			switch {
			case !shouldRun[node]:
				if !controllerutil.Available(oldPod, minReady, now) {
					del = append(del, oldPod)
				}
			case !controllerutil.Available(oldPod, minReady, now):
				allowed = append(allowed, node)
			default:
				candidates = append(candidates, node)
			}
		case !controllerutil.Available(newPod, minReady, now):
			surged++
		default:
			del = append(del, oldPod)
		}
	}
	budget := min(max(maxSurge-surged, 0), len(candidates))
	return del, append(allowed, candidates[:budget]...)
}

// podsOnNode splits a node's live pods into the updated and the outdated one; ok is false when there are
// several of either.
func podsOnNode(pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if terminating(p) {
			continue
		}
		if updated(p, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// computeStatus counts as upstream, per node that should run the pod: desired; current when it has a pod;
// ready, available and updated by its oldest pod; nodes with a pod that should not run one are
// misscheduled. It also returns when a ready pod becomes available (minReadySeconds), 0 if none waits.
func computeStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod, hash string, observe bool, now time.Time) (appsv1.DaemonSetStatus, time.Duration) {
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Status.ObservedGeneration, CollisionCount: ds.Status.CollisionCount,
		Conditions: ds.Status.Conditions}
	if observe {
		st.ObservedGeneration = ds.Generation
	}
	var recheck time.Duration
	for _, node := range nodes {
		run, _ := shouldRun(ds, node)
		pods := append([]*corev1.Pod(nil), nodeToPods[node.Name]...)
		if !run {
			if len(pods) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(pods) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		sortPods(pods)
		p := pods[0]
		if w, ok := controllerutil.AvailableIn(p, ds.Spec.MinReadySeconds, now); ok {
			st.NumberReady++
			if w == 0 {
				st.NumberAvailable++
			} else if recheck == 0 || w < recheck {
				recheck = w
			}
		}
		if updated(p, hash) {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st, recheck
}
