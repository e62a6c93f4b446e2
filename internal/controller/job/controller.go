package job

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

const (
	// burst caps the pods one sync creates or deletes (upstream's MaxPodCreateDeletePerSync).
	burst = 500
	// maxUncounted caps the pods one sync moves into status.uncountedTerminatedPods.
	maxUncounted = 500
	// podEventBatch groups pod events into one sync per Job (upstream's syncJobBatchPeriod).
	podEventBatch = time.Second
	workers       = 5
)

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Controller runs Jobs' pods to completion.
type Controller struct {
	client   kubernetes.Interface
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	recorder record.EventRecorder
	// queue holds Job keys; orphans holds pod keys whose tracking finalizer no Job will remove.
	queue   workqueue.TypedRateLimitingInterface[string]
	orphans workqueue.TypedRateLimitingInterface[string]
	exp     *expectations
	now     func() time.Time

	mu       sync.Mutex
	backoffs map[string]backoffRecord
}

// Start registers the controller's informer handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	jobInf, podInf := factory.Batch().V1().Jobs(), factory.Core().V1().Pods()
	c := newController(client, jobInf.Lister(), podInf.Lister(), recorder)
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: c.jobDeleted,
	}); err != nil {
		return err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: func(o any) { c.podDeleted(o, true) },
	}); err != nil {
		return err
	}
	controllerutil.ShutDownOnDone(ctx, c.queue, c.orphans)
	controllerutil.AfterSync(ctx, []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced}, func() {
		for i := 0; i < workers; i++ {
			go controllerutil.Worker(ctx, "job", c.queue, c.sync)
		}
		go controllerutil.Worker(ctx, "job", c.orphans, c.syncOrphan)
	})
	return nil
}

func newController(client kubernetes.Interface, jobs batchlisters.JobLister, pods corelisters.PodLister, recorder record.EventRecorder) *Controller {
	return &Controller{client: client, jobs: jobs, pods: pods, recorder: recorder, exp: newExpectations(), now: time.Now,
		backoffs: map[string]backoffRecord{},
		queue:    controllerutil.NewQueue("job"), orphans: controllerutil.NewQueue("job_orphan_pod")}
}

func key(o metav1.Object) string { return o.GetNamespace() + "/" + o.GetName() }

func (c *Controller) enqueue(obj any) {
	if j, ok := obj.(*batchv1.Job); ok {
		c.queue.Add(key(j))
	}
}

func (c *Controller) jobDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	c.queue.Add(key(j))
	// Its pods' finalizers are nobody's business now but the orphan worker's.
	pods, _ := c.pods.Pods(j.Namespace).List(labels.Everything())
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == j.UID && hasFinalizer(p) {
			c.orphans.Add(key(p))
		}
	}
}

// managedElsewhere: spec.managedBy names another controller, which owns this Job's pods and status.
func managedElsewhere(j *batchv1.Job) bool {
	return j.Spec.ManagedBy != nil && *j.Spec.ManagedBy != batchv1.JobControllerName
}

// ownerOf returns the Job controlling the pod, if it exists with that UID.
func (c *Controller) ownerOf(pod *corev1.Pod, ref *metav1.OwnerReference) *batchv1.Job {
	return controllerutil.OwnerOf(ref, jobKind.Kind, batchv1.SchemeGroupVersion.String(), c.jobs.Jobs(pod.Namespace).Get)
}

// matching returns Jobs whose selector matches an orphan pod.
func (c *Controller) matching(pod *corev1.Pod) []*batchv1.Job {
	all, _ := c.jobs.Jobs(pod.Namespace).List(labels.Everything())
	return controllerutil.Selecting(all, func(j *batchv1.Job) *metav1.LabelSelector { return j.Spec.Selector }, pod.Labels)
}

// notOurs hands a pod with the tracking finalizer whose Job is gone, finished or another's to the orphan
// worker. It reports whether the pod is one.
func (c *Controller) notOurs(pod *corev1.Pod, job *batchv1.Job) bool {
	if job != nil && !finished(job) && !managedElsewhere(job) {
		return false
	}
	if hasFinalizer(pod) {
		c.orphans.Add(key(pod))
	}
	return true
}

func (c *Controller) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (a restart): not a creation of ours.
		c.podDeleted(pod, false)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		job := c.ownerOf(pod, ref)
		if job != nil {
			c.exp.CreationObserved(key(job))
		}
		if c.notOurs(pod, job) {
			return
		}
		c.queue.AddAfter(key(job), podEventBatch)
		return
	}
	c.notOurs(pod, nil)
	for _, j := range c.matching(pod) {
		c.queue.AddAfter(key(j), podEventBatch)
	}
}

func (c *Controller) podUpdated(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil {
		// A graceful deletion starts: replacements need not wait for the node agent to finish.
		c.podDeleted(cur, false)
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if j := c.ownerOf(old, oldRef); j != nil {
			c.queue.AddAfter(key(j), podEventBatch)
		}
	}
	if curRef != nil {
		job := c.ownerOf(cur, curRef)
		if job != nil && hasFinalizer(old) && !hasFinalizer(cur) {
			c.exp.finalizerRemovalObserved(key(job), cur.UID)
		}
		if c.notOurs(cur, job) {
			return
		}
		c.queue.AddAfter(key(job), podEventBatch)
		return
	}
	c.notOurs(cur, nil)
	if oldRef != nil || !apiequality.Semantic.DeepEqual(old.Labels, cur.Labels) {
		for _, j := range c.matching(cur) {
			c.queue.AddAfter(key(j), podEventBatch)
		}
	}
}

// podDeleted handles a pod that is gone (final) or whose deletion has begun.
func (c *Controller) podDeleted(obj any, final bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		if !final {
			c.notOurs(pod, nil)
		}
		return
	}
	job := c.ownerOf(pod, ref)
	if job != nil {
		k := key(job)
		c.exp.DeletionObserved(k, pod.UID)
		if final || !hasFinalizer(pod) {
			c.exp.finalizerRemovalObserved(k, pod.UID)
		}
	}
	if !final && c.notOurs(pod, job) {
		return
	}
	if job != nil {
		c.queue.AddAfter(key(job), podEventBatch)
	}
}

func hasFinalizer(p *corev1.Pod) bool {
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer)
}

// removeFinalizerPatch drops the tracking finalizer (and only it), for the pod with this UID.
func removeFinalizerPatch(p *corev1.Pod) []byte {
	return fmt.Appendf(nil, `{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q],"uid":%q}}`, batchv1.JobTrackingFinalizer, p.UID)
}

func (c *Controller) removeFinalizer(ctx context.Context, p *corev1.Pod) error {
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, removeFinalizerPatch(p), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or another pod under that name
	}
	return err
}

// syncOrphan removes the tracking finalizer from a pod no live, unfinished Job of ours controls.
func (c *Controller) syncOrphan(ctx context.Context, k string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(k)
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || !hasFinalizer(pod) {
		return err
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ref.Kind != jobKind.Kind || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
			return nil
		}
		if job := c.ownerOf(pod, ref); job != nil && (managedElsewhere(job) || !finished(job)) {
			return nil
		}
	}
	return c.removeFinalizer(ctx, pod)
}

// finished: the Job has its Complete or Failed condition.
func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func suspended(j *batchv1.Job) bool { return j.Spec.Suspend != nil && *j.Spec.Suspend }

func indexed(j *batchv1.Job) bool {
	return j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion
}

func perIndexBackoff(j *batchv1.Job) bool { return indexed(j) && j.Spec.BackoffLimitPerIndex != nil }

// claim adopts orphan pods the selector matches (adding the tracking finalizer) and releases owned pods it no
// longer matches (removing it), as upstream's ref manager; it returns the pods the Job owns afterwards.
// Adoption needs a fresh GET of the Job (still the one we know and not being deleted).
func (c *Controller) claim(ctx context.Context, job *batchv1.Job, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	return controllerutil.Claim[*corev1.Pod]{
		Owner:    job,
		Matches:  func(p *corev1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) },
		CanAdopt: controllerutil.FreshOwner(job, c.client.BatchV1().Jobs(job.Namespace).Get, false),
		Patch:    controllerutil.PodPatcher(c.client),
		AdoptPatch: func(p *corev1.Pod) []byte {
			return controllerutil.AdoptPatch(jobKind, job, p.UID, fmt.Sprintf(`"finalizers":[%q],`, batchv1.JobTrackingFinalizer))
		},
		ReleasePatch: func(p *corev1.Pod) []byte {
			return controllerutil.ReleasePatch(job.UID, p.UID, fmt.Sprintf(`"$deleteFromPrimitiveList/finalizers":[%q],`, batchv1.JobTrackingFinalizer))
		},
		IgnoreInvalid: true,
	}.Run(ctx, pods)
}
