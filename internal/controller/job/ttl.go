package job

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

// TTLController is upstream's ttl-after-finished controller: it deletes a finished Job (and, in the
// foreground, its pods) ttlSecondsAfterFinished after its Complete or Failed condition.
type TTLController struct {
	client kubernetes.Interface
	jobs   batchlisters.JobLister
	queue  workqueue.TypedRateLimitingInterface[string]
	now    func() time.Time
}

// StartTTLAfterFinished registers the controller's informer handlers and starts its workers until ctx ends.
func StartTTLAfterFinished(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	inf := factory.Batch().V1().Jobs()
	c := &TTLController{client: client, jobs: inf.Lister(), now: time.Now,
		queue: controllerutil.NewQueue("ttl_jobs_to_delete")}
	add := func(o any) {
		if j, ok := o.(*batchv1.Job); ok && needsCleanup(j) {
			c.queue.Add(key(j))
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    add,
		UpdateFunc: func(_, n any) { add(n) },
	}); err != nil {
		return err
	}
	controllerutil.Run(ctx, "ttl_jobs_to_delete", c.queue, workers, c.sync, inf.Informer().HasSynced)
	return nil
}

// needsCleanup: a finished Job with a TTL, not already being deleted.
func needsCleanup(j *batchv1.Job) bool {
	return j.Spec.TTLSecondsAfterFinished != nil && finished(j) && j.DeletionTimestamp == nil
}

// expiresIn returns how long until the Job's TTL runs out (0 or less: expired), from the time it finished.
func expiresIn(j *batchv1.Job, now time.Time) (time.Duration, bool) {
	var at time.Time
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			at = c.LastTransitionTime.Time
		}
	}
	if at.IsZero() {
		return 0, false // no finish time to count from
	}
	return at.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now), true
}

func (c *TTLController) sync(ctx context.Context, k string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(k)
	j, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || !needsCleanup(j) {
		return err
	}
	if left, ok := expiresIn(j, c.now()); !ok {
		return nil
	} else if left > 0 {
		c.queue.AddAfter(k, left)
		return nil
	}
	// The cache may be stale (the TTL changed, the Job was recreated): decide on the live object.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || !needsCleanup(fresh) {
		return err
	}
	if left, ok := expiresIn(fresh, c.now()); !ok || left > 0 {
		if ok {
			c.queue.AddAfter(k, left)
		}
		return nil
	}
	policy := metav1.DeletePropagationForeground
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy,
		Preconditions: &metav1.Preconditions{UID: &fresh.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
