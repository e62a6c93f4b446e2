package deployment

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// isScalingEvent: spec.replicas differs from what the active ReplicaSets were sized for.
func (c *Controller) isScalingEvent(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) bool {
	for _, rs := range rsList {
		if replicas(rs.Spec.Replicas) == 0 && !equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			continue
		}
		v, ok := rs.Annotations[DesiredReplicasAnnotation]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err == nil && int32(n) != replicas(d.Spec.Replicas) {
			return true
		}
	}
	return false
}

// scaleOnly resizes ReplicaSets (a scaling event, or a paused Deployment) without rolling out.
func (c *Controller) scaleOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused {
		c.cleanup(ctx, d, oldRSs)
	}
	return c.syncStatus(ctx, d, append(oldRSs, newRS), newRS)
}

func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && replicas(rs.Spec.Replicas) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// scale spreads a change of spec.replicas over the ReplicaSets, as upstream: all of it to the only active
// one; old ones to zero when the new one is saturated; otherwise proportionally to their sizes (by their
// max-replicas annotation), the rounding leftover going to the largest.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	want := replicas(d.Spec.Replicas)
	all := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	act := active(all)
	var target *appsv1.ReplicaSet
	switch {
	case len(act) == 1:
		target = act[0]
	case len(act) == 0 && newRS != nil:
		target = newRS
	case len(act) == 0 && len(oldRSs) > 0:
		newest := append([]*appsv1.ReplicaSet(nil), oldRSs...)
		byCreation(newest)
		target = newest[len(newest)-1]
	}
	if target != nil {
		_, _, err := c.scaleRS(ctx, target, want, d)
		return err
	}
	if newRS != nil && replicas(newRS.Spec.Replicas) == want && newRS.Annotations[DesiredReplicasAnnotation] == strconv.Itoa(int(want)) &&
		newRS.Status.AvailableReplicas == want {
		for _, rs := range active(oldRSs) {
			if _, _, err := c.scaleRS(ctx, rs, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return nil
	}
	allowed := int32(0)
	if want > 0 {
		allowed = want + maxSurge(d)
	}
	toAdd := allowed - sumSpec(act)
	if toAdd > 0 {
		// Largest first, newer first among equals.
		sort.SliceStable(act, func(i, j int) bool {
			if replicas(act[i].Spec.Replicas) != replicas(act[j].Spec.Replicas) {
				return replicas(act[i].Spec.Replicas) > replicas(act[j].Spec.Replicas)
			}
			return act[j].CreationTimestamp.Before(&act[i].CreationTimestamp)
		})
	} else if toAdd < 0 {
		// Largest first, older first among equals.
		sort.SliceStable(act, func(i, j int) bool {
			if replicas(act[i].Spec.Replicas) != replicas(act[j].Spec.Replicas) {
				return replicas(act[i].Spec.Replicas) > replicas(act[j].Spec.Replicas)
			}
			return act[i].CreationTimestamp.Before(&act[j].CreationTimestamp)
		})
	}
	sizes := make([]int32, len(act))
	var added int32
	for i, rs := range act {
		sizes[i] = replicas(rs.Spec.Replicas)
		if toAdd == 0 {
			continue
		}
		p := proportion(rs, d, toAdd, added)
		sizes[i] += p
		added += p
	}
	for i, rs := range act {
		if i == 0 && toAdd != 0 {
			sizes[i] = max(sizes[i]+toAdd-added, 0)
		}
		if _, _, err := c.scaleRS(ctx, rs, sizes[i], d); err != nil {
			return err
		}
	}
	return nil
}

// proportion is the share of toAdd for rs: its size scaled from the Deployment size it was made for
// (max-replicas annotation) to the new one, bounded by what is left to add.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	n := replicas(rs.Spec.Replicas)
	if n == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	var fraction int32
	if replicas(d.Spec.Replicas) == 0 {
		fraction = -n
	} else {
		target := replicas(d.Spec.Replicas) + maxSurge(d)
		annotated := d.Status.Replicas
		if v, err := strconv.Atoi(rs.Annotations[MaxReplicasAnnotation]); err == nil {
			annotated = int32(v)
		}
		if annotated == 0 {
			annotated = max(sumSpec([]*appsv1.ReplicaSet{rs}), 1)
		}
		fraction = int32(math.Round(float64(n)*float64(target)/float64(annotated))) - n
	}
	left := toAdd - added
	if toAdd > 0 {
		return min(fraction, left)
	}
	return max(fraction, left)
}

// cleanup deletes the oldest scaled-down ReplicaSets beyond revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) {
	limit := int32(defaultRevisionHistory)
	if d.Spec.RevisionHistoryLimit != nil {
		limit = *d.Spec.RevisionHistoryLimit
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := int32(len(alive)) - limit
	if diff <= 0 {
		return
	}
	sort.SliceStable(alive, func(i, j int) bool { return revision(alive[i]) < revision(alive[j]) })
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || replicas(rs.Spec.Replicas) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		if err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			slog.Debug("deployment cleanup", "replicaset", rs.Name, "err", err)
		}
	}
}
