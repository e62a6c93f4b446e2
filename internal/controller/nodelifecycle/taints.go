package nodelifecycle

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

var (
	unreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	notReadyNoExecute    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}

	// conditionTaints maps a node condition's status to the NoSchedule taint it brings, as upstream.
	conditionTaints = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
		corev1.NodeReady:              {corev1.ConditionFalse: corev1.TaintNodeNotReady, corev1.ConditionUnknown: corev1.TaintNodeUnreachable},
		corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
		corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
		corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
		corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
	}
	// conditionTaintKeys are the keys of conditionTaints' taints.
	conditionTaintKeys = map[string]bool{}
)

func init() {
	for _, m := range conditionTaints {
		for _, k := range m {
			conditionTaintKeys[k] = true
		}
	}
}

// hasTaint reports whether taints hold one with t's key and effect.
func hasTaint(taints []corev1.Taint, t corev1.Taint) bool {
	for i := range taints {
		if taints[i].MatchTaint(&t) {
			return true
		}
	}
	return false
}

// taintDiff returns the taints of want missing from have, and those of have missing from want (by key and
// effect).
func taintDiff(want, have []corev1.Taint) (add, remove []corev1.Taint) {
	for _, t := range want {
		if !hasTaint(have, t) {
			add = append(add, t)
		}
	}
	for _, t := range have {
		if !hasTaint(want, t) {
			remove = append(remove, t)
		}
	}
	return add, remove
}

// swapTaints adds add (stamped with timeAdded now) to the node's taints and removes remove (by key and effect),
// in one update. The first attempt starts from node (a cached copy); after a conflict it reads the node again.
// It writes nothing when the taints are already so.
func swapTaints(ctx context.Context, client kubernetes.Interface, node *corev1.Node, add, remove []corev1.Taint, now time.Time) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur := node
		if !first {
			var err error
			if cur, err = client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		first = false
		var taints []corev1.Taint
		changed := false
		for _, t := range cur.Spec.Taints {
			if hasTaint(remove, t) && !hasTaint(add, t) {
				changed = true
				continue
			}
			taints = append(taints, t)
		}
		stamp := metav1.NewTime(now)
		for _, t := range add {
			// One already there keeps its timeAdded.
			if !hasTaint(cur.Spec.Taints, t) {
				t.TimeAdded = &stamp
				taints = append(taints, t)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		upd := cur.DeepCopy()
		upd.Spec.Taints = taints
		_, err := client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// noExecuteTaints returns the NoExecute taints.
func noExecuteTaints(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}
