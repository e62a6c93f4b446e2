package statefulset

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff/internal/controller/controllerutil"
)

type opKind int

const (
	opCreate  opKind = iota // create the pod (and its claims) of ordinal ord
	opDelete                // delete pod
	opRelabel               // put the identity labels back on pod
)

func (o opKind) String() string {
	return [...]string{"create", "delete", "relabel"}[o]
}

// step is one thing a sync does to a pod.
type step struct {
	op  opKind
	ord int
	pod *corev1.Pod // the existing pod (delete, relabel)
	// current: create from the current revision (an ordinal below the partition) rather than the update one.
	current bool
	// failed: the pod is deleted because it failed (and is created again by the next step).
	failed bool
}

// plan is what one sync does, in order, and what it waits for.
type plan struct {
	steps []step
	// waiting names the pod progress waits on (for logs and tests).
	waiting string
	// requeue, when set, is when to look again (a pod becoming available after minReadySeconds).
	requeue time.Duration
}

// revs names the set's current and update revisions.
type revs struct {
	current, update string
	// currentReplicas is status.currentReplicas (which ordinals stay at the current revision when a
	// RollingUpdate strategy has no rollingUpdate block).
	currentReplicas int32
}

func (p *plan) add(s step) { p.steps = append(p.steps, s) }

func (p *plan) wait(pod string) plan {
	p.waiting = pod
	return *p
}

func (p *plan) requeueIn(d time.Duration) {
	if d > 0 && (p.requeue == 0 || d < p.requeue) {
		p.requeue = d
	}
}

// fromCurrent: a missing pod of ordinal ord is created at the current revision, because a RollingUpdate
// has not reached it (it is below the partition).
func fromCurrent(set *appsv1.StatefulSet, r revs, ord int) bool {
	if set.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || r.current == r.update {
		return false
	}
	ru := set.Spec.UpdateStrategy.RollingUpdate
	if ru == nil {
		return ord < startOrdinal(set)+int(r.currentReplicas)
	}
	return ru.Partition != nil && ord < startOrdinal(set)+int(*ru.Partition)
}

func partition(set *appsv1.StatefulSet) int {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return int(*ru.Partition)
	}
	return 0
}

// computePlan decides, as upstream's StatefulSet control loop, what to do with the set's pods (members
// only): first the pods of ordinals [start, start+replicas) in order (failed ones deleted and recreated,
// missing ones created, wrong identity labels fixed; OrderedReady stops at the first pod it creates or that
// is not Running, Ready and available), then the pods beyond the range from the highest ordinal (OrderedReady:
// one at a time, all others healthy), then a RollingUpdate from the highest ordinal down to the partition
// (one pod at a time, waiting for each to be healthy again; with maxUnavailable, that many at once).
func computePlan(set *appsv1.StatefulSet, pods []*corev1.Pod, r revs, now time.Time) plan {
	var pl plan
	if set.DeletionTimestamp != nil {
		return pl
	}
	start, n := startOrdinal(set), replicaCount(set)
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	minReady := set.Spec.MinReadySeconds
	slots := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		ord := ordinalOf(p)
		switch {
		case ord >= start && ord < start+n:
			slots[ord-start] = p
		case ord >= 0:
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return ordinalOf(condemned[i]) > ordinalOf(condemned[j]) })
	// planned marks slots this plan creates a pod in: not healthy yet, and at the revision they are made at.
	planned := make([]bool, n)

	for i := 0; i < n; i++ {
		ord := start + i
		p := slots[i]
		if p != nil && controllerutil.PodFinished(p) && !terminating(p) {
			pl.add(step{op: opDelete, ord: ord, pod: p, failed: p.Status.Phase == corev1.PodFailed})
			p, slots[i] = nil, nil
		}
		if p == nil {
			pl.add(step{op: opCreate, ord: ord, current: fromCurrent(set, r, ord)})
			planned[i] = true
			if monotonic {
				return pl.wait(podName(set, ord))
			}
			continue
		}
		if terminating(p) {
			if monotonic {
				return pl.wait(p.Name)
			}
			continue
		}
		wait, ok := availableIn(p, minReady, now)
		if ok && wait > 0 {
			pl.requeueIn(wait)
		}
		if monotonic && (!ok || wait > 0) {
			return pl.wait(p.Name)
		}
		if !identityMatches(set, p, ord) {
			pl.add(step{op: opRelabel, ord: ord, pod: p})
		}
	}

	// Scale down, highest ordinal first. OrderedReady deletes one at a time, only while every other pod is
	// healthy: an unhealthy condemned pod blocks unless it is the first unhealthy one.
	var firstUnhealthy *corev1.Pod
	for i := len(condemned) - 1; i >= 0; i-- {
		if !healthy(condemned[i]) {
			firstUnhealthy = condemned[i]
			break
		}
	}
	for _, p := range condemned {
		if terminating(p) {
			if monotonic {
				return pl.wait(p.Name)
			}
			continue
		}
		if monotonic && p != firstUnhealthy && !available(p, minReady, now) {
			return pl.wait(p.Name)
		}
		pl.add(step{op: opDelete, ord: ordinalOf(p), pod: p})
		if monotonic {
			return pl
		}
	}

	if set.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return pl // OnDelete: pods are replaced at the update revision when the user deletes them
	}
	updateMin := min(max(partition(set), 0), n)
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		maxUnavailable := scaledMaxUnavailable(ru.MaxUnavailable, n)
		unavailable := 0
		for i := 0; i < n; i++ {
			if planned[i] || slots[i] == nil || terminating(slots[i]) || !available(slots[i], minReady, now) {
				unavailable++
			}
		}
		budget := maxUnavailable - unavailable
		for i := n - 1; i >= updateMin && budget > 0; i-- {
			p := slots[i]
			if planned[i] || p == nil || terminating(p) || revisionOf(p) == r.update {
				continue
			}
			pl.add(step{op: opDelete, ord: start + i, pod: p})
			budget--
		}
		return pl
	}
	for i := n - 1; i >= updateMin; i-- {
		p := slots[i]
		if planned[i] || p == nil {
			return pl.wait(podName(set, start+i))
		}
		if revisionOf(p) != r.update && !terminating(p) {
			pl.add(step{op: opDelete, ord: start + i, pod: p})
			return pl
		}
		if !healthy(p) {
			return pl.wait(p.Name)
		}
	}
	return pl
}

// scaledMaxUnavailable resolves rollingUpdate.maxUnavailable against the replicas (a percentage rounds
// up), at least 1.
func scaledMaxUnavailable(v *intstr.IntOrString, replicas int) int {
	n, err := intstr.GetScaledValueFromIntOrPercent(v, replicas, true)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// computeStatus counts the set's pods as upstream: replicas (every pod), readyReplicas and availableReplicas
// (Running and Ready; for minReadySeconds), currentReplicas and updatedReplicas (pods not being deleted at
// the current and update revisions). A RollingUpdate whose pods are all updated and ready is complete: the
// update revision becomes the current one.
func computeStatus(set *appsv1.StatefulSet, pods []*corev1.Pod, r revs, collisionCount int32, now time.Time) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    r.current,
		UpdateRevision:     r.update,
		CollisionCount:     &collisionCount,
		Conditions:         set.Status.Conditions,
	}
	for _, p := range pods {
		st.Replicas++
		if runningAndReady(p) {
			st.ReadyReplicas++
			if available(p, set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
		if !terminating(p) {
			if revisionOf(p) == r.current {
				st.CurrentReplicas++
			}
			if revisionOf(p) == r.update {
				st.UpdatedReplicas++
			}
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
	return st
}
