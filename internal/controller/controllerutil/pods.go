package controllerutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodReady reports the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ReadySince is when the pod became ready (zero when it is not).
func ReadySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// Restarts is the highest restart count among the pod's containers.
func Restarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n = max(n, cs.RestartCount)
	}
	return n
}

// PodFinished: the pod has reached Succeeded or Failed.
func PodFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// PodActive: neither finished nor being deleted.
func PodActive(p *corev1.Pod) bool { return !PodFinished(p) && p.DeletionTimestamp == nil }

// ActivePods leaves out finished pods and pods being deleted.
func ActivePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if PodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// AvailableIn returns how long until a ready pod has been ready for minReadySeconds (0: available now); ok
// is false for a pod that is not ready.
func AvailableIn(p *corev1.Pod, minReady int32, now time.Time) (wait time.Duration, ok bool) {
	if !PodReady(p) {
		return 0, false
	}
	if minReady == 0 {
		return 0, true
	}
	return max(ReadySince(p).Add(time.Duration(minReady)*time.Second).Sub(now), 0), true
}

// Available: ready for at least minReadySeconds.
func Available(p *corev1.Pod, minReady int32, now time.Time) bool {
	w, ok := AvailableIn(p, minReady, now)
	return ok && w == 0
}

// DeleteFirst orders pods for scale-down as upstream's ActivePods: unscheduled before scheduled, pending
// before unknown before running, not ready before ready, ready for less time before longer, more restarts
// before fewer, newer before older.
func DeleteFirst(a, b *corev1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if ra, rb := phaseRank(a), phaseRank(b); ra != rb {
		return ra < rb
	}
	if PodReady(a) != PodReady(b) {
		return !PodReady(a)
	}
	if PodReady(a) && PodReady(b) {
		ta, tb := ReadySince(a), ReadySince(b)
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
	}
	if ra, rb := Restarts(a), Restarts(b); ra != rb {
		return ra > rb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.After(b.CreationTimestamp.Time)
	}
	return false
}

func phaseRank(p *corev1.Pod) int {
	switch p.Status.Phase {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 0
}
