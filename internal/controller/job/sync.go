package job

import (
	"context"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controller/controllerutil"
)

// Condition reasons and messages, as upstream's.
const (
	msgBackoffLimit       = "Job has reached the specified backoff limit"
	msgDeadline           = "Job was active longer than specified deadline"
	msgMaxFailedIndexes   = "Job has exceeded the specified maximal number of failed indexes"
	msgFailedIndexes      = "Job has failed indexes"
	msgCompletionsReached = "Reached expected number of succeeded pods"
)

// state is what one sync knows and decides about a Job. job is a private copy whose status is what gets
// written; stored is the status the API server has as far as this sync knows.
type state struct {
	key    string
	now    time.Time
	job    *batchv1.Job
	stored batchv1.JobStatus
	pods   []*corev1.Pod
	// active pods: not finished and not being deleted.
	active []*corev1.Pod
	// expectedRm: finalizer removals issued earlier and not yet seen; handled: pods this sync deleted after
	// removing their finalizer (not counted).
	expectedRm, handled  map[types.UID]bool
	uncountedSucceeded   map[types.UID]bool
	uncountedFailed      map[types.UID]bool
	succeeded, failed    int32
	ready, terminating   int32
	prevDone, done       intervals
	failedIndexes        *intervals
	delayed              map[int]*corev1.Pod
	newSucceeded, newBad []*corev1.Pod
	backoff              backoffRecord
	// finish is the interim condition (FailureTarget or SuccessCriteriaMet) once the Job's outcome is known;
	// the terminal one (Failed or Complete) follows when its pods are all accounted for and gone.
	finish *batchv1.JobCondition
	mu     sync.Mutex
}

func (c *Controller) sync(ctx context.Context, k string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(k)
	shared, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(k)
		c.setBackoff(k, nil)
		return nil
	}
	if err != nil {
		return err
	}
	if managedElsewhere(shared) {
		return nil
	}
	if finished(shared) {
		c.setBackoff(k, nil)
		return nil
	}
	if shared.Spec.Selector == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(shared.Spec.Selector)
	if err != nil {
		return nil // validation keeps such selectors out
	}
	satisfied := c.exp.Satisfied(k)
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claim(ctx, shared, sel, all)
	if err != nil {
		return err
	}
	job := shared.DeepCopy()
	s := &state{key: k, now: c.now(), job: job, stored: *shared.Status.DeepCopy(), pods: pods,
		expectedRm: c.exp.pendingFinalizerRemovals(k), handled: map[types.UID]bool{}}
	s.count(c.backoffFor(k))
	s.decideFailure(c)
	if indexed(job) {
		s.indexes()
	}

	var manageErr error
	active := int32(len(s.active))
	if s.finish != nil {
		deleted, readyDeleted, err := c.deletePods(ctx, s, s.active, false)
		if deleted != active || !satisfied {
			// Pods may remain, or may not be in the cache yet: the outcome waits for a later sync.
			s.finish = nil
		}
		active -= deleted
		s.terminating += deleted
		s.ready -= readyDeleted
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manage(ctx, s)
			managed = true
		}
		complete := false
		if job.Spec.Completions == nil {
			// Work queue: done once any pod succeeded and none is left running.
			complete = s.succeeded > 0 && active == 0
		} else {
			complete = s.succeeded >= *job.Spec.Completions && active == 0
		}
		switch {
		case complete:
			s.finish = newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompletionsReached, s.now)
		case managed && suspended(job):
			if setCondition(&job.Status, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", s.now) {
				c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
				// activeDeadlineSeconds counts time continuously active: it starts over on resume.
				job.Status.StartTime = nil
			}
		case managed:
			if setCondition(&job.Status, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", s.now) {
				c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
				t := metav1.NewTime(s.now)
				job.Status.StartTime = &t
			}
		}
	}
	job.Status.Active = active
	job.Status.Ready = &s.ready
	job.Status.Terminating = &s.terminating

	if err := c.track(ctx, s); err != nil {
		return err
	}
	if manageErr != nil {
		return manageErr
	}
	c.setBackoff(k, &s.backoff)
	if s.finish == nil && job.Spec.ActiveDeadlineSeconds != nil && job.Status.StartTime != nil && !suspended(job) {
		left := time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - s.now.Sub(job.Status.StartTime.Time)
		c.queue.AddAfter(k, max(left, 0)+10*time.Millisecond)
	}
	return nil
}

// count sorts the Job's pods into active, terminating and newly finished ones, and totals successes and
// failures: the status counters, the pods already in uncountedTerminatedPods and the new ones.
func (s *state) count(rec backoffRecord) {
	job, st := s.job, &s.job.Status
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	s.uncountedSucceeded, s.uncountedFailed = map[types.UID]bool{}, map[types.UID]bool{}
	for _, u := range st.UncountedTerminatedPods.Succeeded {
		s.uncountedSucceeded[u] = true
	}
	for _, u := range st.UncountedTerminatedPods.Failed {
		s.uncountedFailed[u] = true
	}
	var newIgnored int32
	var counted []*corev1.Pod // failures that count, for the back-off
	for _, p := range s.pods {
		switch {
		case !controllerutil.PodFinished(p) && p.DeletionTimestamp == nil:
			s.active = append(s.active, p)
			if controllerutil.PodReady(p) {
				s.ready++
			}
		case terminating(p):
			s.terminating++
		}
		if !hasFinalizer(p) || s.expectedRm[p.UID] {
			continue
		}
		if _, ok := validIndex(job, p); indexed(job) && !ok {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !s.uncountedSucceeded[p.UID]:
			s.newSucceeded = append(s.newSucceeded, p)
		case p.Status.Phase != corev1.PodSucceeded && podFailed(p, job) && !s.uncountedFailed[p.UID]:
			s.newBad = append(s.newBad, p)
			if matchFailurePolicy(job.Spec.PodFailurePolicy, p).count {
				counted = append(counted, p)
			} else {
				newIgnored++
			}
		}
	}
	s.succeeded = st.Succeeded + int32(len(s.newSucceeded)+len(s.uncountedSucceeded))
	s.failed = st.Failed + int32(len(s.newBad)) - newIgnored + int32(len(s.uncountedFailed))
	if st.StartTime == nil && !suspended(job) {
		t := metav1.NewTime(s.now)
		st.StartTime = &t
	}
	s.backoff = rec.next(s.newSucceeded, counted, s.now)
}

// decideFailure finds an outcome already recorded as an interim condition, or a reason to fail: a pod failure
// policy FailJob rule, the backoff limit, the active deadline.
func (s *state) decideFailure(c *Controller) {
	job := s.job
	for _, t := range []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobFailureTarget} {
		if cond := findCondition(&job.Status, t); cond != nil && cond.Status == corev1.ConditionTrue {
			s.finish = cond.DeepCopy()
			return
		}
	}
	if job.Spec.PodFailurePolicy != nil {
		for _, p := range s.pods {
			if !podFailed(p, job) {
				continue
			}
			if m := matchFailurePolicy(job.Spec.PodFailurePolicy, p); m.action == batchv1.PodFailurePolicyActionFailJob {
				s.finish = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, m.message, s.now)
				return
			}
		}
	}
	switch {
	case s.failed > backoffLimit(job) || restartsOnFailure(job, s.pods):
		s.finish = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit, s.now)
	case pastDeadline(job, s.now):
		s.finish = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadline, s.now)
	}
}

func backoffLimit(job *batchv1.Job) int32 {
	if job.Spec.BackoffLimit == nil {
		return 6
	}
	return *job.Spec.BackoffLimit
}

func pastDeadline(job *batchv1.Job, now time.Time) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return now.Sub(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// indexes works out an Indexed Job's succeeded indexes (the status's plus pods not yet counted), failed
// indexes under backoffLimitPerIndex, and whether those or the success policy decide the Job.
func (s *state) indexes() {
	job, st := s.job, &s.job.Status
	completions := int(*job.Spec.Completions)
	s.prevDone = parseIntervals(st.CompletedIndexes, completions)
	var newDone, newFailed []int
	for _, p := range s.pods {
		ix, ok := validIndex(job, p)
		if !ok || !hasFinalizer(p) {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded {
			newDone = append(newDone, ix)
		} else if perIndexBackoff(job) && indexFailed(job, p) {
			newFailed = append(newFailed, ix)
		}
	}
	s.done = s.prevDone.withIndexes(newDone)
	s.succeeded = int32(s.done.total())
	if perIndexBackoff(job) {
		var prev intervals
		if st.FailedIndexes != nil {
			prev = parseIntervals(*st.FailedIndexes, completions)
		}
		failed := prev.withIndexes(newFailed)
		s.failedIndexes = &failed
		if s.finish == nil {
			switch {
			case job.Spec.MaxFailedIndexes != nil && failed.total() > int(*job.Spec.MaxFailedIndexes):
				s.finish = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonMaxFailedIndexesExceeded, msgMaxFailedIndexes, s.now)
			case failed.total() > 0 && failed.total()+s.done.total() >= completions:
				s.finish = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonFailedIndexes, msgFailedIndexes, s.now)
			}
		}
		s.delayed = s.delayedPerIndex()
	}
	if s.finish == nil {
		if msg, ok := matchSuccessPolicy(job.Spec.SuccessPolicy, completions, s.done); ok {
			s.finish = newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonSuccessPolicy, msg, s.now)
		}
	}
}

// delayedPerIndex picks, for each index still to run, its latest failed pod: that pod keeps its finalizer
// until a replacement carrying its failure count exists, as upstream.
func (s *state) delayedPerIndex() map[int]*corev1.Pod {
	activeIdx := map[int]bool{}
	for _, p := range s.active {
		activeIdx[completionIndex(p)] = true
	}
	out := map[int]*corev1.Pod{}
	for _, p := range s.pods {
		ix, ok := validIndex(s.job, p)
		if !ok || !hasFinalizer(p) || !podFailed(p, s.job) || s.done.has(ix) || inList(s.failedIndexes, ix) || activeIdx[ix] {
			continue
		}
		prev, seen := out[ix]
		if !seen || (indexFailureCount(prev)+indexIgnoredFailureCount(prev) <= indexFailureCount(p)+indexIgnoredFailureCount(p) &&
			!finishTime(p, s.now).Before(finishTime(prev, s.now))) {
			out[ix] = p
		}
	}
	return out
}
