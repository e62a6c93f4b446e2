package cronjob

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// nextScheduleDelta is how long after an activation the CronJob is synced, so the clock has surely passed it.
const nextScheduleDelta = 100 * time.Millisecond

// Controller creates Jobs from CronJobs on their schedules.
type Controller struct {
	client   kubernetes.Interface
	cronJobs batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	now      func() time.Time
}

// Start registers the controller's informer handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	cjInf, jobInf := factory.Batch().V1().CronJobs(), factory.Batch().V1().Jobs()
	c := &Controller{client: client, cronJobs: cjInf.Lister(), jobs: jobInf.Lister(), recorder: recorder, now: time.Now,
		queue: controllerutil.NewQueue("cronjob")}
	if _, err := cjInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.enqueue(o, 0) },
		UpdateFunc: c.cronJobUpdated,
	}); err != nil {
		return err
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { c.jobChanged(nil, o) },
		UpdateFunc: func(o, n any) {
			c.jobChanged(o, n)
		},
		DeleteFunc: func(o any) { c.jobChanged(nil, o) },
	}); err != nil {
		return err
	}
	controllerutil.ShutDownOnDone(ctx, c.queue)
	controllerutil.AfterSync(ctx, []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced}, func() {
		for i := 0; i < 5; i++ {
			go c.worker(ctx)
		}
	})
	return nil
}

func key(o metav1.Object) string { return o.GetNamespace() + "/" + o.GetName() }

func (c *Controller) enqueue(obj any, after time.Duration) {
	if cj, ok := obj.(*batchv1.CronJob); ok {
		c.queue.AddAfter(key(cj), after)
	}
}

// cronJobUpdated: a new schedule or zone moves the next sync to its next activation; any other change is
// looked at now.
func (c *Controller) cronJobUpdated(oldObj, newObj any) {
	old, cur := oldObj.(*batchv1.CronJob), newObj.(*batchv1.CronJob)
	if old.Spec.Schedule != cur.Spec.Schedule || !equalPtr(old.Spec.TimeZone, cur.Spec.TimeZone) {
		sch, err := parseSchedule(withZone(cur))
		if err != nil {
			c.enqueue(cur, 0) // the sync reports it
			return
		}
		c.enqueue(cur, requeueAfter(cur, c.now(), sch))
		return
	}
	c.enqueue(cur, 0)
}

func equalPtr(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// jobChanged syncs the CronJobs controlling a Job, before and after the change.
func (c *Controller) jobChanged(oldObj, newObj any) {
	for _, o := range []any{oldObj, newObj} {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		j, ok := o.(*batchv1.Job)
		if !ok {
			continue
		}
		if cj := controllerutil.OwnerOf(metav1.GetControllerOf(j), cronJobKind.Kind, batchv1.SchemeGroupVersion.String(), c.cronJobs.CronJobs(j.Namespace).Get); cj != nil {
			c.queue.Add(key(cj))
		}
	}
}

func (c *Controller) worker(ctx context.Context) {
	for {
		k, quit := c.queue.Get()
		if quit {
			return
		}
		after, err := c.sync(ctx, k)
		switch {
		case err != nil && ctx.Err() == nil:
			slog.Debug("cronjob sync", "key", k, "err", err)
			c.queue.AddRateLimited(k)
		case after != nil:
			c.queue.Forget(k)
			c.queue.AddAfter(k, *after)
		default:
			c.queue.Forget(k)
		}
		c.queue.Done(k)
	}
}

// sync reconciles one CronJob and returns when to look at it again (nil: on its next change only).
func (c *Controller) sync(ctx context.Context, k string) (*time.Duration, error) {
	ns, name, _ := cache.SplitMetaNamespaceKey(k)
	shared, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	all, err := c.jobs.Jobs(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var jobs []*batchv1.Job
	for _, j := range all {
		if ref := metav1.GetControllerOf(j); ref != nil && ref.UID == shared.UID {
			jobs = append(jobs, j)
		}
	}
	cj := shared.DeepCopy()
	cleaned := c.cleanupFinished(ctx, cj, jobs)
	after, changed, syncErr := c.syncCronJob(ctx, cj, jobs)
	if cleaned || changed {
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return nil, err
		}
	}
	if after != nil {
		return after, nil
	}
	return nil, syncErr
}

// syncCronJob brings status.active in line with the Jobs that exist and creates the Job for the schedule
// time that is due, if any. It reports when to sync next and whether the status changed.
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (*time.Duration, bool, error) {
	now := c.now()
	changed := false
	children := map[types.UID]bool{}
	for _, j := range jobs {
		children[j.UID] = true
		active := inActive(cj, j.UID)
		fin, cond := finishedAs(j)
		switch {
		case !active && !fin:
			// Ours but not on record: created just before a crash, or by someone else (kubectl create job
			// --from). Look at the live CronJob before complaining.
			fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
			if err != nil {
				return nil, changed, err
			}
			if inActive(fresh, j.UID) {
				fresh.Status.DeepCopyInto(&cj.Status)
				cj.ResourceVersion = fresh.ResourceVersion
				continue
			}
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case active && fin:
			removeActive(cj, j.UID)
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, cond)
			changed = true
			fallthrough
		case fin && cond == batchv1.JobComplete:
			if cond == batchv1.JobComplete && j.Status.CompletionTime != nil &&
				(cj.Status.LastSuccessfulTime == nil || j.Status.CompletionTime.After(cj.Status.LastSuccessfulTime.Time)) {
				t := *j.Status.CompletionTime
				cj.Status.LastSuccessfulTime = &t
				changed = true
			}
		}
	}
	// A Job on record that is gone (checked against the API server, the cache may lag) leaves the list.
	for _, ref := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
		if children[ref.UID] {
			continue
		}
		_, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			removeActive(cj, ref.UID)
			changed = true
		case err != nil:
			return nil, changed, err
		}
	}
	if cj.DeletionTimestamp != nil {
		return nil, changed, nil
	}
	if cj.Spec.TimeZone != nil {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *cj.Spec.TimeZone, err)
			return nil, changed, nil
		}
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return nil, changed, nil
	}
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule",
			"CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
	}
	sch, err := parseSchedule(withZone(cj))
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil, changed, nil
	}
	due, missed, err := mostRecent(earliest(cj), cj.Spec.StartingDeadlineSeconds, now, sch)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return nil, changed, nil
	}
	if missed == manyMissed {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	next := requeueAfter(cj, now, sch)
	if due == nil {
		return &next, changed, nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && due.Add(time.Duration(*d)*time.Second).Before(now) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", due.UTC().Format(time.RFC1123Z))
		return &next, changed, nil
	}
	name := jobName(cj, *due)
	if activeByName(cj, name) || (cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(*due)) {
		return &next, changed, nil // this activation is done
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0 {
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		return &next, changed, nil
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
		for _, ref := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
			j, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedGet", "Get job: %v", err)
				return nil, changed, err
			}
			if !c.deleteJob(ctx, cj, j) {
				return nil, changed, fmt.Errorf("could not replace job %s/%s", j.Namespace, j.Name)
			}
			changed = true
		}
	}
	req, err := jobFromTemplate(cj, *due)
	if err != nil {
		return nil, changed, err
	}
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, req, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, changed, err
	case apierrors.IsAlreadyExists(err):
		// Created earlier by us with the status update lost, or by someone else under this name.
		existing, err := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, req.Name, metav1.GetOptions{})
		if err != nil {
			return nil, changed, err
		}
		if !metav1.IsControlledBy(existing, cj) || inActive(cj, existing.UID) {
			return nil, changed, nil
		}
		created = existing
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return nil, changed, err
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
	}
	cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1",
		Namespace: created.Namespace, Name: created.Name, UID: created.UID, ResourceVersion: created.ResourceVersion})
	cj.Status.LastScheduleTime = &metav1.Time{Time: *due}
	next = requeueAfter(cj, now, sch)
	return &next, true, nil
}

// withZone puts spec.timeZone in front of the schedule, as upstream hands it to the parser.
func withZone(cj *batchv1.CronJob) string {
	if strings.Contains(cj.Spec.Schedule, "TZ") || cj.Spec.TimeZone == nil {
		return cj.Spec.Schedule
	}
	if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
		return cj.Spec.Schedule
	}
	return "TZ=" + *cj.Spec.TimeZone + " " + cj.Spec.Schedule
}

// earliest is the time after which activations count: the last one scheduled, else the CronJob's creation.
func earliest(cj *batchv1.CronJob) time.Time {
	if cj.Status.LastScheduleTime != nil {
		return cj.Status.LastScheduleTime.Time
	}
	return cj.CreationTimestamp.Time
}

// requeueAfter is how long until just after the next activation following the most recent one (not
// limited by the starting deadline), as upstream's nextScheduleTimeDuration.
func requeueAfter(cj *batchv1.CronJob, now time.Time, sch schedule) time.Duration {
	base := earliest(cj)
	if t, _, err := mostRecent(base, nil, now, sch); err != nil {
		base = now
	} else if t != nil {
		base = *t
	}
	n := sch.next(base)
	if n.IsZero() {
		n = now.Add(24 * time.Hour) // nothing within five years: look again tomorrow
	}
	return n.Add(nextScheduleDelta).Sub(now)
}

// jobName is <cronjob>-<scheduled time in minutes since the epoch>: one name per activation, so a Job is never
// created twice for it.
func jobName(cj *batchv1.CronJob, t time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, t.Unix()/60)
}

func jobFromTemplate(cj *batchv1.CronJob, scheduled time.Time) (*batchv1.Job, error) {
	loc := time.UTC
	if cj.Spec.TimeZone != nil {
		l, err := time.LoadLocation(*cj.Spec.TimeZone)
		if err != nil {
			return nil, err
		}
		loc = l
	}
	lbls := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Labels {
		lbls[k] = v
	}
	ann := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		ann[k] = v
	}
	ann[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: jobName(cj, scheduled), Namespace: cj.Namespace,
		Labels: lbls, Annotations: ann, OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)}}}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&j.Spec)
	return j, nil
}

func inActive(cj *batchv1.CronJob, uid types.UID) bool {
	for _, r := range cj.Status.Active {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func activeByName(cj *batchv1.CronJob, name string) bool {
	for _, r := range cj.Status.Active {
		if r.Name == name && r.Namespace == cj.Namespace {
			return true
		}
	}
	return false
}

func removeActive(cj *batchv1.CronJob, uid types.UID) {
	var out []corev1.ObjectReference
	for _, r := range cj.Status.Active {
		if r.UID != uid {
			out = append(out, r)
		}
	}
	cj.Status.Active = out
}

// finishedAs reports whether the Job finished, and with which condition (Complete or Failed).
func finishedAs(j *batchv1.Job) (bool, batchv1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type
		}
	}
	return false, ""
}

// cleanupFinished deletes the oldest finished Jobs beyond successfulJobsHistoryLimit and
// failedJobsHistoryLimit. It reports whether the status changed.
func (c *Controller) cleanupFinished(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) bool {
	if cj.Spec.SuccessfulJobsHistoryLimit == nil && cj.Spec.FailedJobsHistoryLimit == nil {
		return false
	}
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		if j.DeletionTimestamp != nil {
			continue // already going
		}
		switch fin, cond := finishedAs(j); {
		case fin && cond == batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case fin && cond == batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	changed := false
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, succeeded, int(*l)) {
		changed = true
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, failed, int(*l)) {
		changed = true
	}
	return changed
}

func (c *Controller) removeOldest(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, keep int) bool {
	n := len(jobs) - keep
	if n <= 0 {
		return false
	}
	sortByStartTime(jobs)
	changed := false
	for _, j := range jobs[:n] {
		if c.deleteJob(ctx, cj, j) {
			changed = true
		}
	}
	return changed
}

// sortByStartTime orders Jobs oldest first; Jobs that never started go last; ties by name.
func sortByStartTime(jobs []*batchv1.Job) {
	sort.SliceStable(jobs, func(a, b int) bool {
		sa, sb := jobs[a].Status.StartTime, jobs[b].Status.StartTime
		switch {
		case sa == nil && sb != nil:
			return false
		case sa != nil && sb == nil:
			return true
		case sa == nil || sa.Equal(sb):
			return jobs[a].Name < jobs[b].Name
		}
		return sa.Before(sb)
	})
}

// deleteJob deletes a Job (its pods follow through the garbage collector) and drops it from status.active.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) bool {
	bg := metav1.DeletePropagationBackground
	if err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return false
	}
	removeActive(cj, j.UID)
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	return true
}
