package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

var deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Condition reasons, as upstream's.
const (
	reasonNewRSAvailable   = "NewReplicaSetAvailable"
	reasonRSUpdated        = "ReplicaSetUpdated"
	reasonTimedOut         = "ProgressDeadlineExceeded"
	reasonNewRSCreated     = "NewReplicaSetCreated"
	reasonFoundNewRS       = "FoundNewReplicaSet"
	reasonFailedRSCreate   = "ReplicaSetCreateError"
	reasonPaused           = "DeploymentPaused"
	reasonResumed          = "DeploymentResumed"
	reasonMinAvailable     = "MinimumReplicasAvailable"
	reasonMinUnavailable   = "MinimumReplicasUnavailable"
	defaultRevisionHistory = 10
)

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	client   kubernetes.Interface
	dLister  appslisters.DeploymentLister
	rsLister appslisters.ReplicaSetLister
	pods     corelisters.PodLister
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	now      func() time.Time
}

// Start registers the controller's informer handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	dInf, rsInf, podInf := factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods()
	c := &Controller{client: client, dLister: dInf.Lister(), rsLister: rsInf.Lister(), pods: podInf.Lister(), recorder: recorder, now: time.Now,
		queue: controllerutil.NewQueue("deployment")}
	if _, err := dInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			c.enqueue(o)
		},
	}); err != nil {
		return err
	}
	rsChanged := func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		rs, ok := o.(*appsv1.ReplicaSet)
		if !ok {
			return
		}
		if d := c.ownerOf(rs); d != nil {
			c.enqueue(d)
			return
		}
		if metav1.GetControllerOf(rs) == nil {
			for _, d := range c.matching(rs) {
				c.enqueue(d)
			}
		}
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: rsChanged,
		UpdateFunc: func(o, n any) {
			rsChanged(n)
			if ref := metav1.GetControllerOf(o.(*appsv1.ReplicaSet)); ref != nil {
				rsChanged(o)
			}
		},
		DeleteFunc: rsChanged,
	}); err != nil {
		return err
	}
	// Recreate waits for every old pod to be gone before it starts new ones.
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		pod, ok := o.(*corev1.Pod)
		if !ok {
			return
		}
		rs := controllerutil.OwnerOf(metav1.GetControllerOf(pod), "ReplicaSet", "", c.rsLister.ReplicaSets(pod.Namespace).Get)
		if rs == nil {
			return
		}
		if d := c.ownerOf(rs); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
			c.enqueue(d)
		}
	}}); err != nil {
		return err
	}
	controllerutil.Run(ctx, "deployment", c.queue, 5, c.sync, dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced)
	return nil
}

func (c *Controller) enqueue(obj any) {
	if d, ok := obj.(*appsv1.Deployment); ok {
		c.queue.Add(d.Namespace + "/" + d.Name)
	}
}

func (c *Controller) ownerOf(rs *appsv1.ReplicaSet) *appsv1.Deployment {
	return controllerutil.OwnerOf(metav1.GetControllerOf(rs), "Deployment", "", c.dLister.Deployments(rs.Namespace).Get)
}

func (c *Controller) matching(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	all, _ := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	return controllerutil.Selecting(all, func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector }, rs.Labels)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	if d.Spec.Selector == nil || (len(d.Spec.Selector.MatchLabels) == 0 && len(d.Spec.Selector.MatchExpressions) == 0) {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			_, _ = c.client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		}
		return nil
	}
	rsList, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, oldRSs, err := c.replicaSetsAndRevision(ctx, d, rsList, false)
		if err != nil {
			return err
		}
		return c.syncStatus(ctx, d, append(oldRSs, newRS), newRS)
	}
	if err := c.checkPaused(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused || c.isScalingEvent(d, rsList) {
		return c.scaleOnly(ctx, d, rsList)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return c.rolloutRecreate(ctx, d, rsList)
	}
	return c.rolloutRolling(ctx, d, rsList)
}

// claimReplicaSets adopts orphan ReplicaSets the selector matches and releases owned ones it no longer
// matches; it returns the owned ReplicaSets.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, nil
	}
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	// Unlike pods, a ReplicaSet that no longer matches is released even while it is being deleted, and a
	// patch answered Invalid is an error.
	return controllerutil.Claim[*appsv1.ReplicaSet]{
		Owner:    d,
		Matches:  func(rs *appsv1.ReplicaSet) bool { return sel.Matches(labels.Set(rs.Labels)) },
		CanAdopt: controllerutil.FreshOwner(d, c.client.AppsV1().Deployments(d.Namespace).Get, false),
		Patch: func(ctx context.Context, rs *appsv1.ReplicaSet, patch []byte) (*appsv1.ReplicaSet, error) {
			return c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		},
		AdoptPatch:      func(rs *appsv1.ReplicaSet) []byte { return controllerutil.AdoptPatch(deploymentKind, d, rs.UID, "") },
		ReleasePatch:    func(rs *appsv1.ReplicaSet) []byte { return controllerutil.ReleasePatch(d.UID, rs.UID, "") },
		ReleaseDeleting: true,
	}.Run(ctx, all)
}

// replicaSetsAndRevision finds (or, with create, makes) the ReplicaSet of the current template and keeps the
// revision annotations of it and of the Deployment up to date. It returns the new ReplicaSet (nil if none)
// and the old ones.
func (c *Controller) replicaSetsAndRevision(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	sorted := append([]*appsv1.ReplicaSet(nil), rsList...)
	byCreation(sorted)
	var existing *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if existing == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			existing = rs
			continue
		}
		old = append(old, rs)
	}
	var maxOld int64
	for _, rs := range old {
		maxOld = max(maxOld, revision(rs))
	}
	newRevision := strconv.FormatInt(maxOld+1, 10)
	if existing != nil {
		cp := existing.DeepCopy()
		changed := setNewRSAnnotations(d, cp, newRevision, true)
		if changed || cp.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			cp.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
			if err != nil {
				return nil, nil, err
			}
			cp = updated
		}
		if err := c.setDeploymentRevision(ctx, d, cp.Annotations[RevisionAnnotation]); err != nil {
			return nil, nil, err
		}
		if hasProgressDeadline(d) && condition(d, appsv1.DeploymentProgressing) == nil {
			c.setProgressing(&d.Status, corev1.ConditionTrue, reasonFoundNewRS, fmt.Sprintf("Found new replica set %q", cp.Name), false)
			if err := c.writeStatus(ctx, d); err != nil {
				return nil, nil, err
			}
		}
		return cp, old, nil
	}
	if !create {
		return nil, old, nil
	}
	tmpl := *d.Spec.Template.DeepCopy()
	hash := templateHash(&d.Spec.Template, d.Status.CollisionCount)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-" + hash, Namespace: d.Namespace, Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, deploymentKind)}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: tmpl},
	}
	n := newRSReplicas(d, append(old, rs), rs)
	rs.Spec.Replicas = &n
	setNewRSAnnotations(d, rs, newRevision, false)
	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	existed := false
	switch {
	case apierrors.IsAlreadyExists(err):
		cur, gerr := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, nil, gerr
		}
		if ref := metav1.GetControllerOf(cur); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &cur.Spec.Template) {
			created, existed = cur, true
			break
		}
		// A hash collision: count it, so the next sync names the ReplicaSet differently.
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if werr := c.writeStatus(ctx, d); werr != nil {
			return nil, nil, werr
		}
		return nil, nil, err
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			c.setProgressing(&d.Status, corev1.ConditionFalse, reasonFailedRSCreate, msg, false)
			_ = c.writeStatus(ctx, d)
		}
		c.recorder.Event(d, corev1.EventTypeWarning, reasonFailedRSCreate, msg)
		return nil, nil, err
	}
	if !existed && n > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, n)
	}
	if err := c.setDeploymentRevision(ctx, d, newRevision); err != nil {
		return nil, nil, err
	}
	if !existed && hasProgressDeadline(d) {
		c.setProgressing(&d.Status, corev1.ConditionTrue, reasonNewRSCreated, fmt.Sprintf("Created new replica set %q", created.Name), false)
		if err := c.writeStatus(ctx, d); err != nil {
			return nil, nil, err
		}
	}
	return created, old, nil
}

// setNewRSAnnotations copies the Deployment's annotations (but the controller's own and kubectl's
// last-applied), raises the revision to newRevision if it is lower (keeping earlier revisions in
// revision-history, as a rollback does), and on creation records desired and max replicas.
func setNewRSAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision string, exists bool) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		switch k {
		case lastAppliedAnnotation, RevisionAnnotation, RevisionHistoryAnnotation, DesiredReplicasAnnotation, MaxReplicasAnnotation, "deprecated.deployment.rollback.to":
			continue
		}
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	oldRevision, had := rs.Annotations[RevisionAnnotation]
	oldN, _ := strconv.ParseInt(oldRevision, 10, 64)
	newN, _ := strconv.ParseInt(newRevision, 10, 64)
	if oldN < newN {
		rs.Annotations[RevisionAnnotation] = newRevision
		changed = true
		if had && oldRevision != "" {
			if h := rs.Annotations[RevisionHistoryAnnotation]; h == "" {
				rs.Annotations[RevisionHistoryAnnotation] = oldRevision
			} else {
				rs.Annotations[RevisionHistoryAnnotation] = h + "," + oldRevision
			}
		}
	}
	if !exists && setReplicasAnnotations(rs, replicas(d.Spec.Replicas), replicas(d.Spec.Replicas)+maxSurge(d)) {
		changed = true
	}
	return changed
}

func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	ds, ms := strconv.Itoa(int(desired)), strconv.Itoa(int(maxReplicas))
	if rs.Annotations[DesiredReplicasAnnotation] == ds && rs.Annotations[MaxReplicasAnnotation] == ms {
		return false
	}
	rs.Annotations[DesiredReplicasAnnotation], rs.Annotations[MaxReplicasAnnotation] = ds, ms
	return true
}

func maxSurge(d *appsv1.Deployment) int32 {
	s, _ := resolveFenceposts(d)
	return s
}

// setDeploymentRevision writes the revision annotation on the Deployment (a metadata patch: the status
// subresource would drop it).
func (c *Controller) setDeploymentRevision(ctx context.Context, d *appsv1.Deployment, rev string) error {
	if rev == "" || d.Annotations[RevisionAnnotation] == rev {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{RevisionAnnotation: rev}}})
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return err
	}
	d.Annotations, d.ResourceVersion = updated.Annotations, updated.ResourceVersion
	return nil
}

// newRSReplicas is the size the new ReplicaSet may grow to now: all of spec.replicas for Recreate, and for
// RollingUpdate as much as maxSurge leaves room for.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicas(d.Spec.Replicas)
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return want
	}
	current := sumSpec(all)
	maxTotal := want + maxSurge(d)
	if current >= maxTotal {
		return replicas(newRS.Spec.Replicas)
	}
	up := min(maxTotal-current, want-replicas(newRS.Spec.Replicas))
	return replicas(newRS.Spec.Replicas) + max(up, 0)
}

// scaleRS sets a ReplicaSet's size (and replica annotations) and records ScalingReplicaSet.
func (c *Controller) scaleRS(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	cur := replicas(rs.Spec.Replicas)
	cp := rs.DeepCopy()
	annotations := setReplicasAnnotations(cp, replicas(d.Spec.Replicas), replicas(d.Spec.Replicas)+maxSurge(d))
	if cur == size && !annotations {
		return false, rs, nil
	}
	cp.Spec.Replicas = &size
	updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, err
	}
	if cur != size {
		op := "up"
		if size < cur {
			op = "down"
		}
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, rs.Name, cur, size)
	}
	return cur != size, updated, nil
}

func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndRevision(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	// Scale the new ReplicaSet up as far as maxSurge allows.
	want := replicas(d.Spec.Replicas)
	scaled := false
	switch cur := replicas(newRS.Spec.Replicas); {
	case cur > want:
		scaled, newRS, err = c.scaleRS(ctx, newRS, want, d)
	case cur < want:
		scaled, newRS, err = c.scaleRS(ctx, newRS, newRSReplicas(d, all, newRS), d)
	}
	if err != nil {
		return err
	}
	if scaled {
		return c.syncRollout(ctx, d, append(oldRSs, newRS), newRS)
	}
	// Scale old ReplicaSets down as far as maxUnavailable allows.
	scaledDown, oldRSs, err := c.reconcileOld(ctx, d, oldRSs, newRS)
	if err != nil {
		return err
	}
	if scaledDown {
		return c.syncRollout(ctx, d, append(oldRSs, newRS), newRS)
	}
	if complete(d, &d.Status) {
		c.cleanup(ctx, d, oldRSs)
	}
	return c.syncRollout(ctx, d, append(oldRSs, newRS), newRS)
}

// reconcileOld scales old ReplicaSets down: unhealthy replicas first, then available ones while at least
// spec.replicas - maxUnavailable stay available.
func (c *Controller) reconcileOld(ctx context.Context, d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, []*appsv1.ReplicaSet, error) {
	if sumSpec(oldRSs) == 0 {
		return false, oldRSs, nil
	}
	all := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	minAvailable := replicas(d.Spec.Replicas) - maxUnavailable(d)
	newUnavailable := replicas(newRS.Spec.Replicas) - newRS.Status.AvailableReplicas
	maxScaledDown := sumSpec(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, oldRSs, nil
	}
	old := append([]*appsv1.ReplicaSet(nil), oldRSs...)
	byCreation(old)
	var total int32
	// Unhealthy replicas of old ReplicaSets would otherwise block the rollout.
	for i, rs := range old {
		if total >= maxScaledDown {
			break
		}
		n := replicas(rs.Spec.Replicas)
		if n == 0 || n <= rs.Status.AvailableReplicas {
			// No unhealthy replicas (status may still show more available than the spec just lowered).
			continue
		}
		down := min(maxScaledDown-total, n-rs.Status.AvailableReplicas)
		_, updated, err := c.scaleRS(ctx, rs, n-down, d)
		if err != nil {
			return total > 0, old, err
		}
		old[i] = updated
		total += down
	}
	all = append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	available := sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	if available > minAvailable {
		budget := available - minAvailable
		var done int32
		for i, rs := range old {
			if done >= budget {
				break
			}
			n := replicas(rs.Spec.Replicas)
			if n == 0 {
				continue
			}
			down := min(n, budget-done)
			_, updated, err := c.scaleRS(ctx, rs, n-down, d)
			if err != nil {
				return true, old, err
			}
			old[i] = updated
			done += down
		}
		total += done
	}
	return total > 0, old, nil
}

func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	scaledDown := false
	for i, rs := range oldRSs {
		if replicas(rs.Spec.Replicas) == 0 {
			continue
		}
		s, updated, err := c.scaleRS(ctx, rs, 0, d)
		if err != nil {
			return err
		}
		oldRSs[i] = updated
		scaledDown = scaledDown || s
	}
	if scaledDown {
		return c.syncRollout(ctx, d, append(oldRSs, newRS), newRS)
	}
	if c.oldPodsRunning(oldRSs) {
		return c.syncRollout(ctx, d, append(oldRSs, newRS), newRS)
	}
	if newRS == nil {
		if newRS, oldRSs, err = c.replicaSetsAndRevision(ctx, d, rsList, true); err != nil {
			return err
		}
	}
	if _, newRS, err = c.scaleRS(ctx, newRS, replicas(d.Spec.Replicas), d); err != nil {
		return err
	}
	if complete(d, &d.Status) {
		c.cleanup(ctx, d, oldRSs)
	}
	return c.syncRollout(ctx, d, append(oldRSs, newRS), newRS)
}

// oldPodsRunning reports whether pods of the old ReplicaSets still exist (not finished).
func (c *Controller) oldPodsRunning(oldRSs []*appsv1.ReplicaSet) bool {
	if sumStatus(oldRSs, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }) > 0 {
		return true
	}
	for _, rs := range oldRSs {
		pods, _ := c.pods.Pods(rs.Namespace).List(labels.Everything())
		for _, p := range pods {
			if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == rs.UID && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return true
			}
		}
	}
	return false
}

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
