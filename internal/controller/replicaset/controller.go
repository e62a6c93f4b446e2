package replicaset

import (
	"context"
	"maps"
	"sort"
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

// burstReplicas caps how many pods one sync creates or deletes, as upstream.
const burstReplicas = 500

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Controller keeps ReplicaSets' pods.
type Controller struct {
	client   kubernetes.Interface
	rsLister appslisters.ReplicaSetLister
	pods     corelisters.PodLister
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *controllerutil.Expectations
}

// Start registers the controller's informer handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	rsInf := factory.Apps().V1().ReplicaSets()
	podInf := factory.Core().V1().Pods()
	c := &Controller{client: client, rsLister: rsInf.Lister(), pods: podInf.Lister(), recorder: recorder, exp: controllerutil.NewExpectations(),
		queue: controllerutil.NewQueue("replicaset")}
	_, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if rs, ok := o.(*appsv1.ReplicaSet); ok {
				c.exp.Forget(rs.Namespace + "/" + rs.Name)
				c.enqueue(rs)
			}
		},
	})
	if err != nil {
		return err
	}
	_, err = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	})
	if err != nil {
		return err
	}
	controllerutil.Run(ctx, "replicaset", c.queue, 5, c.sync, rsInf.Informer().HasSynced, podInf.Informer().HasSynced)
	return nil
}

func (c *Controller) enqueue(obj any) {
	if rs, ok := obj.(*appsv1.ReplicaSet); ok {
		c.queue.Add(rs.Namespace + "/" + rs.Name)
	}
}

func (c *Controller) enqueueAfter(rs *appsv1.ReplicaSet, d time.Duration) {
	c.queue.AddAfter(rs.Namespace+"/"+rs.Name, d)
}

// ownerOf returns the ReplicaSet controlling the pod, if it exists with that UID.
func (c *Controller) ownerOf(pod *corev1.Pod) *appsv1.ReplicaSet {
	return controllerutil.OwnerOf(metav1.GetControllerOf(pod), "ReplicaSet", "", c.rsLister.ReplicaSets(pod.Namespace).Get)
}

// matching returns the ReplicaSets whose selector matches an orphan pod (candidates for adoption).
func (c *Controller) matching(pod *corev1.Pod) []*appsv1.ReplicaSet {
	all, _ := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	return controllerutil.Selecting(all, func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector }, pod.Labels)
}

func (c *Controller) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.podDeleted(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if rs := c.ownerOf(pod); rs != nil {
			c.exp.CreationObserved(rs.Namespace + "/" + rs.Name)
			c.enqueue(rs)
		}
		return
	}
	for _, rs := range c.matching(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) podUpdated(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !apiequality.Semantic.DeepEqual(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A pod being deleted no longer counts: that is the deletion the controller waits for, as upstream
		// (graceful termination can take long, or forever on a lost node).
		c.podDeleted(cur)
		if labelsChanged {
			c.podDeleted(old)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if rs := c.ownerOf(old); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		if rs := c.ownerOf(cur); rs != nil {
			c.enqueue(rs)
			// A pod that became ready may become available after minReadySeconds.
			if !controllerutil.PodReady(old) && controllerutil.PodReady(cur) && rs.Spec.MinReadySeconds > 0 {
				c.enqueueAfter(rs, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
			}
		}
		return
	}
	if labelsChanged || oldRef != nil {
		for _, rs := range c.matching(cur) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) podDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if rs := c.ownerOf(pod); rs != nil {
		c.exp.DeletionObserved(rs.Namespace+"/"+rs.Name, pod.UID)
		c.enqueue(rs)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	rs, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil // validation keeps such selectors out; nothing sensible to do
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	owned, err := c.claim(ctx, rs, sel, all)
	if err != nil {
		return err
	}
	active := controllerutil.ActivePods(owned)
	var manageErr error
	if c.exp.Satisfied(key) && rs.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, rs, active, key)
	}
	newStatus := computeStatus(rs, active, manageErr, time.Now())
	if err := c.updateStatus(ctx, rs, newStatus); err != nil {
		return err
	}
	if manageErr == nil && rs.Spec.MinReadySeconds > 0 && newStatus.ReadyReplicas > newStatus.AvailableReplicas {
		c.enqueueAfter(rs, time.Duration(rs.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

// claim adopts orphan pods the selector matches and releases owned pods it no longer matches, as upstream's
// controller ref manager; it returns the pods the ReplicaSet owns afterwards. Adoption needs a fresh GET
// of the ReplicaSet (still the one we know and not being deleted).
func (c *Controller) claim(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	return controllerutil.Claim[*corev1.Pod]{
		Owner:         rs,
		Matches:       func(p *corev1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) },
		CanAdopt:      controllerutil.FreshOwner(rs, c.client.AppsV1().ReplicaSets(rs.Namespace).Get, false),
		Patch:         controllerutil.PodPatcher(c.client),
		AdoptPatch:    func(p *corev1.Pod) []byte { return controllerutil.AdoptPatch(rsKind, rs, p.UID, "") },
		ReleasePatch:  func(p *corev1.Pod) []byte { return controllerutil.ReleasePatch(rs.UID, p.UID, "") },
		IgnoreInvalid: true,
	}.Run(ctx, pods)
}

// manage creates or deletes pods so the active count meets spec.replicas.
func (c *Controller) manage(ctx context.Context, rs *appsv1.ReplicaSet, active []*corev1.Pod, key string) error {
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	diff := len(active) - int(want)
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		c.exp.Expect(key, n, nil)
		// If some creation is never observed, look again when the expectations expire.
		c.queue.AddAfter(key, controllerutil.ExpectationsTTL+time.Second)
		created, err := controllerutil.SlowStart(n, func(int) error { return c.createPod(ctx, rs) })
		if skipped := n - created; skipped > 0 {
			// Creations that were not attempted or failed will never be observed.
			for i := 0; i < skipped; i++ {
				c.exp.CreationObserved(key)
			}
		}
		return err
	case diff > 0:
		n := min(diff, burstReplicas)
		victims := podsToDelete(active, n)
		uids := make([]types.UID, 0, len(victims))
		for _, p := range victims {
			uids = append(uids, p.UID)
		}
		c.exp.Expect(key, 0, uids)
		c.queue.AddAfter(key, controllerutil.ExpectationsTTL+time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, len(victims))
		for _, p := range victims {
			wg.Add(1)
			go func(p *corev1.Pod) {
				defer wg.Done()
				err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
				if err != nil {
					c.exp.DeletionObserved(key, p.UID)
					if !apierrors.IsNotFound(err) {
						c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
						errs <- err
					}
					return
				}
				c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			}(p)
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	return nil
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	t := rs.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: rs.Name + "-", Namespace: rs.Namespace,
			Labels: maps.Clone(t.Labels), Annotations: maps.Clone(t.Annotations), Finalizers: t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, rsKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
	return nil
}

// podsToDelete picks the n pods to remove first, in upstream's order: unscheduled before scheduled, pending
// before unknown before running, not ready before ready, ready for less time before longer, more restarts
// before fewer, newer before older.
func podsToDelete(pods []*corev1.Pod, n int) []*corev1.Pod {
	sorted := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(sorted, func(i, j int) bool { return controllerutil.DeleteFirst(sorted[i], sorted[j]) })
	return sorted[:n]
}

// computeStatus counts the ReplicaSet's pods as upstream: replicas, fullyLabeledReplicas (all template
// labels), readyReplicas, availableReplicas (ready for minReadySeconds), observedGeneration, and a
// ReplicaFailure condition while pods cannot be created or deleted.
func computeStatus(rs *appsv1.ReplicaSet, active []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	st.Replicas = int32(len(active))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	tmpl := labels.SelectorFromSet(rs.Spec.Template.Labels)
	for _, p := range active {
		if tmpl.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if controllerutil.PodReady(p) {
			st.ReadyReplicas++
			if controllerutil.Available(p, rs.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	st.ObservedGeneration = rs.Generation
	var conds []appsv1.ReplicaSetCondition
	var prev *appsv1.ReplicaSetCondition
	for i, c := range st.Conditions {
		if c.Type != appsv1.ReplicaSetReplicaFailure {
			conds = append(conds, c)
		} else {
			prev = &st.Conditions[i]
		}
	}
	if manageErr != nil {
		reason := "FailedCreate"
		want := int32(1)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		if int32(len(active)) > want {
			reason = "FailedDelete"
		}
		since := metav1.NewTime(now)
		if prev != nil && prev.Status == corev1.ConditionTrue {
			since = prev.LastTransitionTime
		}
		conds = append(conds, appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			Reason: reason, Message: manageErr.Error(), LastTransitionTime: since})
	}
	st.Conditions = conds
	return st
}

func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) error {
	if apiequality.Semantic.DeepEqual(rs.Status, st) {
		return nil
	}
	cp := rs.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		// A newer version is on its way through the informer, which will sync again.
		return nil
	}
	return err
}
