package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
