package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// DefaultTolerationSecondsValue is upstream's default for both --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds.
const DefaultTolerationSecondsValue int64 = 300

// DefaultTolerationSeconds is upstream's admission plugin of that name: every pod (on create and update) that
// does not already tolerate the node.kubernetes.io/not-ready or node.kubernetes.io/unreachable NoExecute taint
// gets a toleration for it limited to NotReadySeconds / UnreachableSeconds, so a pod stays bound to a node that
// stops reporting for that long before the taint eviction controller deletes it.
type DefaultTolerationSeconds struct {
	NotReadySeconds    int64
	UnreachableSeconds int64
}

// Admit implements Mutator.
func (d DefaultTolerationSeconds) Admit(_ context.Context, a *Attributes) error {
	if (a.Operation != Create && a.Operation != Update) || a.Resource.Group != "" || a.Resource.Resource != "pods" || a.Subresource != "" {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	var notReady, unreachable bool
	for _, t := range pod.Spec.Tolerations {
		// Upstream's check: a toleration for the key (or for every key) with effect NoExecute (or every effect).
		if t.Effect != corev1.TaintEffectNoExecute && t.Effect != "" {
			continue
		}
		notReady = notReady || t.Key == corev1.TaintNodeNotReady || t.Key == ""
		unreachable = unreachable || t.Key == corev1.TaintNodeUnreachable || t.Key == ""
	}
	if !notReady {
		s := d.NotReadySeconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeNotReady,
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s})
	}
	if !unreachable {
		s := d.UnreachableSeconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeUnreachable,
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s})
	}
	return nil
}
