package deployment

import (
	"context"
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// complete: every replica is updated and available, and the controller has seen the current generation.
func complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	want := replicas(d.Spec.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && st.ObservedGeneration >= d.Generation
}

// calculateStatus sums the ReplicaSets and sets the Available condition.
func (c *Controller) calculateStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) appsv1.DeploymentStatus {
	var rss []*appsv1.ReplicaSet
	for _, rs := range all {
		if rs != nil {
			rss = append(rss, rs)
		}
	}
	availableN := sumStatus(rss, func(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(rss, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }),
		ReadyReplicas:       sumStatus(rss, func(s appsv1.ReplicaSetStatus) int32 { return s.ReadyReplicas }),
		AvailableReplicas:   availableN,
		UnavailableReplicas: max(sumSpec(rss)-availableN, 0),
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...),
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	now := metav1.NewTime(c.now())
	if availableN >= replicas(d.Spec.Replicas)-maxUnavailable(d) {
		setCondition(&st, appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: reasonMinAvailable,
			Message: "Deployment has minimum availability.", LastUpdateTime: now, LastTransitionTime: now})
	} else {
		setCondition(&st, appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: reasonMinUnavailable,
			Message: "Deployment does not have minimum availability.", LastUpdateTime: now, LastTransitionTime: now})
	}
	return st
}

// setProgressing sets the Progressing condition. touch keeps the transition time of a True condition but
// moves its update time (progress was made), as upstream does for ReplicaSetUpdated.
func (c *Controller) setProgressing(st *appsv1.DeploymentStatus, status corev1.ConditionStatus, reason, msg string, touch bool) {
	now := metav1.NewTime(c.now())
	cond := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now}
	if touch {
		for _, old := range st.Conditions {
			if old.Type == appsv1.DeploymentProgressing && old.Status == corev1.ConditionTrue {
				cond.LastTransitionTime = old.LastTransitionTime
			}
		}
		removeCondition(st, appsv1.DeploymentProgressing)
		st.Conditions = append(st.Conditions, cond)
		return
	}
	setCondition(st, cond)
}

// syncStatus writes the computed status when it changed.
func (c *Controller) syncStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := c.calculateStatus(d, all, newRS)
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.writeStatus(ctx, d)
}

// syncRollout is syncStatus plus the Progressing condition: complete, progressing (any replica moved
// forward) or timed out after progressDeadlineSeconds without progress.
func (c *Controller) syncRollout(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := c.calculateStatus(d, all, newRS)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := condition(d, appsv1.DeploymentProgressing)
	alreadyComplete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == reasonNewRSAvailable
	rsName := ""
	if newRS != nil {
		rsName = newRS.Name
	}
	if hasProgressDeadline(d) && !alreadyComplete {
		switch {
		case complete(d, &st):
			c.setProgressing(&st, corev1.ConditionTrue, reasonNewRSAvailable, fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName), false)
		case progressing(d, &st):
			msg := fmt.Sprintf("Deployment %q is progressing.", d.Name)
			if rsName != "" {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", rsName)
			}
			c.setProgressing(&st, corev1.ConditionTrue, reasonRSUpdated, msg, true)
		case c.timedOut(d, &st):
			c.setProgressing(&st, corev1.ConditionFalse, reasonTimedOut, fmt.Sprintf("ReplicaSet %q has timed out progressing.", rsName), false)
		}
	}
	if f := replicaFailure(all); f != nil {
		setCondition(&st, *f)
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	if !apiequality.Semantic.DeepEqual(d.Status, st) {
		d.Status = st
		if err := c.writeStatus(ctx, d); err != nil {
			return err
		}
	}
	// Look again when the deadline would pass without progress.
	if p := condition(d, appsv1.DeploymentProgressing); hasProgressDeadline(d) && p != nil && p.Status == corev1.ConditionTrue &&
		p.Reason != reasonNewRSAvailable && !complete(d, &d.Status) {
		after := p.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds)*time.Second).Sub(c.now()) + time.Second
		c.queue.AddAfter(d.Namespace+"/"+d.Name, max(after, time.Second))
	}
	return nil
}

func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas || st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

func (c *Controller) timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	var p *appsv1.DeploymentCondition
	for i := range st.Conditions {
		if st.Conditions[i].Type == appsv1.DeploymentProgressing {
			p = &st.Conditions[i]
		}
	}
	if p == nil || p.Reason == reasonNewRSAvailable {
		return false
	}
	if p.Reason == reasonTimedOut {
		return true
	}
	return p.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(c.now())
}

// replicaFailure lifts a ReplicaSet's ReplicaFailure condition (pods it cannot create) to the Deployment.
func replicaFailure(all []*appsv1.ReplicaSet) *appsv1.DeploymentCondition {
	for _, rs := range all {
		if rs == nil {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				return &appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: c.Reason,
					Message: c.Message, LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime}
			}
		}
	}
	return nil
}

// checkPaused sets Progressing Unknown DeploymentPaused / DeploymentResumed as the Deployment is paused or
// resumed (unless it already timed out).
func (c *Controller) checkPaused(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cur := condition(d, appsv1.DeploymentProgressing)
	if cur != nil && cur.Reason == reasonTimedOut {
		return nil
	}
	paused := cur != nil && cur.Reason == reasonPaused
	switch {
	case d.Spec.Paused && !paused:
		c.setProgressing(&d.Status, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", false)
	case !d.Spec.Paused && paused:
		c.setProgressing(&d.Status, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", false)
	default:
		return nil
	}
	return c.writeStatus(ctx, d)
}

func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment) error {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err // a conflict is retried from the informer's newer copy
	}
	d.ResourceVersion = updated.ResourceVersion
	return nil
}
