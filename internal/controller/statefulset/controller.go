package statefulset

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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

// deletionMemory is how long a pod this controller deleted counts as terminating while the informer has
// not shown its deletionTimestamp yet.
const deletionMemory = time.Minute

// Controller keeps StatefulSets' pods.
type Controller struct {
	client    kubernetes.Interface
	sets      appslisters.StatefulSetLister
	pods      corelisters.PodLister
	revisions appslisters.ControllerRevisionLister
	recorder  record.EventRecorder
	queue     workqueue.TypedRateLimitingInterface[string]
	now       func() time.Time

	mu       sync.Mutex
	deleting map[types.UID]time.Time
}

// Start registers the controller's informer handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	setInf, podInf, revInf := factory.Apps().V1().StatefulSets(), factory.Core().V1().Pods(), factory.Apps().V1().ControllerRevisions()
	c := &Controller{client: client, sets: setInf.Lister(), pods: podInf.Lister(), revisions: revInf.Lister(), recorder: recorder,
		now: time.Now, deleting: map[types.UID]time.Time{},
		queue: controllerutil.NewQueue("statefulset")}
	if _, err := setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
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
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(nil, o.(*corev1.Pod)) },
		UpdateFunc: func(o, n any) { c.podChanged(o.(*corev1.Pod), n.(*corev1.Pod)) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				c.forgetDeletion(p.UID)
				if set := c.ownerOf(p); set != nil {
					c.enqueue(set)
				}
			}
		},
	}); err != nil {
		return err
	}
	controllerutil.Run(ctx, "statefulset", c.queue, 5, c.sync, setInf.Informer().HasSynced, podInf.Informer().HasSynced, revInf.Informer().HasSynced)
	return nil
}

func (c *Controller) enqueue(obj any) {
	if set, ok := obj.(*appsv1.StatefulSet); ok {
		c.queue.Add(set.Namespace + "/" + set.Name)
	}
}

func (c *Controller) ownerOf(p *corev1.Pod) *appsv1.StatefulSet {
	return controllerutil.OwnerOf(metav1.GetControllerOf(p), "StatefulSet", "", c.sets.StatefulSets(p.Namespace).Get)
}

// podChanged enqueues the set that controls the pod (before and after the change) or, for an orphan, the
// sets that could adopt it.
func (c *Controller) podChanged(old, cur *corev1.Pod) {
	if old != nil && old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil {
		c.forgetDeletion(cur.UID)
	}
	if old != nil {
		if oref, cref := metav1.GetControllerOf(old), metav1.GetControllerOf(cur); oref != nil && (cref == nil || oref.UID != cref.UID) {
			if set := c.ownerOf(old); set != nil {
				c.enqueue(set)
			}
		}
	}
	if metav1.GetControllerOf(cur) != nil {
		if set := c.ownerOf(cur); set != nil {
			c.enqueue(set)
		}
		return
	}
	sets, _ := c.sets.StatefulSets(cur.Namespace).List(labels.Everything())
	for _, set := range controllerutil.Selecting(sets, func(set *appsv1.StatefulSet) *metav1.LabelSelector { return set.Spec.Selector }, cur.Labels) {
		if isMember(set, cur) {
			c.enqueue(set)
		}
	}
}

func (c *Controller) rememberDeletion(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleting[uid] = c.now()
}

func (c *Controller) forgetDeletion(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.deleting, uid)
}

// withDeletions marks pods this controller deleted, whose deletion the informer has not shown yet, as
// terminating, so a sync on a stale cache does not act on them again.
func (c *Controller) withDeletions(pods []*corev1.Pod) []*corev1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for uid, at := range c.deleting {
		if now.Sub(at) > deletionMemory {
			delete(c.deleting, uid)
		}
	}
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if _, ok := c.deleting[p.UID]; ok && p.DeletionTimestamp == nil {
			cp := p.DeepCopy()
			t := metav1.NewTime(now)
			cp.DeletionTimestamp = &t
			p = cp
		}
		out = append(out, p)
	}
	return out
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	cached, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp != nil {
		// Being deleted: the garbage collector removes the pods; nothing to create or update.
		return nil
	}
	set := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil // validation keeps such selectors out
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, set, sel, all)
	if err != nil {
		return err
	}
	revisions, err := c.claimRevisions(ctx, set, sel)
	if err != nil {
		return err
	}
	controllerutil.SortRevisions(revisions, true)
	current, update, collisionCount, err := c.syncRevisions(ctx, set, revisions)
	if err != nil {
		return err
	}
	r := revs{current: current.Name, update: update.Name, currentReplicas: set.Status.CurrentReplicas}
	now := c.now()
	pods = c.withDeletions(pods)
	pl := computePlan(set, pods, r, now)
	if pl.waiting != "" {
		slog.Debug("statefulset waiting", "set", key, "pod", pl.waiting)
	}
	execErr := c.execute(ctx, set, pl, current, update)
	st := computeStatus(set, pods, r, collisionCount, now)
	if err := c.updateStatus(ctx, set, st); err != nil {
		return err
	}
	if execErr == nil {
		for _, old := range historyToDelete(set, revisions, pods, st.CurrentRevision, st.UpdateRevision) {
			if err := c.client.AppsV1().ControllerRevisions(ns).Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	if pl.requeue > 0 {
		c.queue.AddAfter(key, pl.requeue+100*time.Millisecond)
	}
	return execErr
}

// claim is how the set claims its pods and revisions: adoption needs a fresh GET of the set (a set gone
// refuses it); a patch answered NotFound or Invalid skips the object.
func claim[T metav1.Object](c *Controller, set *appsv1.StatefulSet, matches func(T) bool, patch func(ctx context.Context, obj T, patch []byte) (T, error)) controllerutil.Claim[T] {
	return controllerutil.Claim[T]{
		Owner:         set,
		Matches:       matches,
		CanAdopt:      controllerutil.FreshOwner(set, c.client.AppsV1().StatefulSets(set.Namespace).Get, true),
		Patch:         patch,
		AdoptPatch:    func(o T) []byte { return controllerutil.AdoptPatch(setKind, set, o.GetUID(), "") },
		IgnoreInvalid: true,
	}
}

// claimPods adopts orphan pods the selector matches whose names make them members (<set>-<ordinal>) and
// releases owned pods that no longer match; it returns the set's pods afterwards.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	cl := claim(c, set, func(p *corev1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) && isMember(set, p) }, controllerutil.PodPatcher(c.client))
	cl.ReleasePatch = func(p *corev1.Pod) []byte { return controllerutil.ReleasePatch(set.UID, p.UID, "") }
	return cl.Run(ctx, pods)
}

// claimRevisions returns the set's ControllerRevisions (selector matching), adopting orphans.
func (c *Controller) claimRevisions(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := c.revisions.ControllerRevisions(set.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	return claim(c, set, func(*appsv1.ControllerRevision) bool { return true },
		func(ctx context.Context, r *appsv1.ControllerRevision, patch []byte) (*appsv1.ControllerRevision, error) {
			return c.client.AppsV1().ControllerRevisions(r.Namespace).Patch(ctx, r.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		}).Run(ctx, all)
}

// syncRevisions finds or makes the update revision (the current template's) and finds the current one
// (status.currentRevision; the update revision when there is none yet). A name taken by other data is a
// hash collision: the collision count goes up and the name changes.
func (c *Controller) syncRevisions(ctx context.Context, set *appsv1.StatefulSet, revisions []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisionCount int32, err error) {
	if set.Status.CollisionCount != nil {
		collisionCount = *set.Status.CollisionCount
	}
	api := c.client.AppsV1().ControllerRevisions(set.Namespace)
	for attempt := 0; update == nil; attempt++ {
		if attempt > 20 {
			return nil, nil, 0, fmt.Errorf("no free revision name for StatefulSet %s after %d collisions", set.Name, attempt)
		}
		d, err := decideRevisions(set, revisions, collisionCount)
		if err != nil {
			return nil, nil, 0, err
		}
		switch {
		case d.existing != nil && d.renumber == 0:
			update = d.existing
		case d.existing != nil:
			cp := d.existing.DeepCopy()
			cp.Revision = d.renumber
			if update, err = api.Update(ctx, cp, metav1.UpdateOptions{}); err != nil {
				return nil, nil, 0, err
			}
		default:
			created, err := api.Create(ctx, d.create, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				existing, gerr := api.Get(ctx, d.create.Name, metav1.GetOptions{})
				if gerr != nil {
					return nil, nil, 0, gerr
				}
				if metav1.IsControlledBy(existing, set) && equalRevision(existing, d.create) {
					update = existing // made by an earlier sync the informer has not shown yet
					continue
				}
				collisionCount++
				continue
			}
			if err != nil {
				return nil, nil, 0, err
			}
			update = created
		}
	}
	for _, r := range revisions {
		if r.Name == set.Status.CurrentRevision {
			current = r
		}
	}
	if current == nil || current.Name == update.Name {
		current = update
	}
	return current, update, collisionCount, nil
}

// execute carries out the plan's steps in order, stopping at the first error; OrderedReady also stops at a
// pod that already exists (the informer is behind).
func (c *Controller) execute(ctx context.Context, set *appsv1.StatefulSet, pl plan, current, update *appsv1.ControllerRevision) error {
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	var currentSet *appsv1.StatefulSet
	for _, s := range pl.steps {
		switch s.op {
		case opCreate:
			src, rev := set, update.Name
			if s.current {
				if currentSet == nil {
					cs, err := applyRevision(set, current)
					if err != nil {
						return err
					}
					currentSet = cs
				}
				src, rev = currentSet, current.Name
			}
			created, err := c.createPod(ctx, set, newPod(src, rev, s.ord), s.ord)
			if err != nil {
				return err
			}
			if !created && monotonic {
				return nil
			}
		case opDelete:
			if s.failed {
				c.recorder.Eventf(set, corev1.EventTypeWarning, "RecreatingFailedPod", "StatefulSet %s/%s is recreating failed Pod %s", set.Namespace, set.Name, s.pod.Name)
			}
			if err := c.deletePod(ctx, set, s.pod); err != nil {
				return err
			}
		case opRelabel:
			patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q,%q:"%d"}}}`, appsv1.StatefulSetPodNameLabel, s.pod.Name, appsv1.PodIndexLabel, s.ord)
			if _, err := c.client.CoreV1().Pods(set.Namespace).Patch(ctx, s.pod.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedUpdate", "update Pod %s in StatefulSet %s failed error: %v", s.pod.Name, set.Name, err)
				return err
			}
			c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulUpdate", "update Pod %s in StatefulSet %s successful", s.pod.Name, set.Name)
		}
	}
	return nil
}

// createPod creates the pod's claims that do not exist yet, then the pod. It reports false when the pod
// already exists or the namespace is going away.
func (c *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ord int) (bool, error) {
	for _, claim := range claimsFor(set, ord) {
		pvcs := c.client.CoreV1().PersistentVolumeClaims(set.Namespace)
		_, err := pvcs.Get(ctx, claim.Name, metav1.GetOptions{})
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return false, err
		}
		_, err = pvcs.Create(ctx, claim, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success", claim.Name, pod.Name, set.Name)
		case apierrors.IsAlreadyExists(err), apierrors.IsNotFound(err): // made meanwhile; or PVCs are not served
		case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			return false, nil
		default:
			c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for Pod %s in StatefulSet %s failed error: %v", claim.Name, pod.Name, set.Name, err)
			return false, err
		}
	}
	_, err := c.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return false, nil
	case err != nil:
		c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return false, err
	}
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return true, nil
}

func (c *Controller) deletePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or another pod now has the name
	}
	if err != nil {
		c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return err
	}
	c.rememberDeletion(pod.UID)
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, st appsv1.StatefulSetStatus) error {
	if apiequality.Semantic.DeepEqual(set.Status, st) {
		return nil
	}
	cp := set.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // a newer version is on its way through the informer, which syncs again
	}
	return err
}
