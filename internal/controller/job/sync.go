package job

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
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

// manage creates or deletes pods so that the active ones match what the Job still needs, and returns how
// many are active afterwards.
func (c *Controller) manage(ctx context.Context, s *state) (int32, error) {
	job := s.job
	active := int32(len(s.active))
	if suspended(job) {
		n, readyN, err := c.deletePods(ctx, s, s.active, true)
		s.ready -= readyN
		s.terminating += n
		return active - n, err
	}
	parallelism := int32(1)
	if job.Spec.Parallelism != nil {
		parallelism = *job.Spec.Parallelism
	}
	var want int32
	if job.Spec.Completions == nil {
		want = parallelism
		if s.succeeded > 0 {
			want = active // some pod succeeded: let the running ones finish, start none
		}
	} else {
		want = min(max(*job.Spec.Completions-s.succeeded, 0), parallelism)
	}
	victims := s.podsForRemoval(int(max(active-want, 0)))
	if len(victims) > 0 {
		if len(victims) > burst {
			victims = victims[:burst]
		}
		n, readyN, err := c.deletePods(ctx, s, victims, true)
		s.ready -= readyN
		s.terminating += n
		return active - n, err
	}
	var term int32
	if onlyReplaceFailed(job) {
		term = s.terminating
	}
	if active+term >= want {
		return active, nil
	}
	diff := min(int(want-active-term), burst)
	var idx []int
	if indexed(job) {
		var wait time.Duration
		idx, wait = s.pendingIndexes(diff)
		if wait > 0 {
			c.queue.AddAfter(s.key, wait)
		}
		diff = len(idx)
		if diff == 0 {
			return active, nil
		}
	}
	if !perIndexBackoff(job) {
		if wait := backoffRemaining(s.backoff.failures, s.backoff.lastFailure, s.now); wait > 0 {
			c.queue.AddAfter(s.key, wait)
			return active, nil
		}
	}
	tmpl := job.Spec.Template.DeepCopy()
	if indexed(job) {
		addIndexEnv(&tmpl.Spec)
	}
	if !containsString(tmpl.Finalizers, batchv1.JobTrackingFinalizer) {
		tmpl.Finalizers = append(tmpl.Finalizers, batchv1.JobTrackingFinalizer)
	}
	c.exp.Expect(s.key, diff, nil)
	created, err := slowStart(diff, func(i int) (bool, error) {
		ix := noIndex
		if idx != nil {
			ix = idx[i]
		}
		return c.createPod(ctx, s, tmpl, ix)
	})
	for i := created; i < diff; i++ {
		c.exp.CreationObserved(s.key) // never to be seen
	}
	return active + int32(created), err
}

// pendingIndexes returns up to n indexes to start: not succeeded, failed or active (or, when only Failed
// pods are replaced, terminating), and past their per-index back-off; wait is the shortest back-off left.
func (s *state) pendingIndexes(n int) ([]int, time.Duration) {
	taken := map[int]bool{}
	for _, p := range s.active {
		taken[completionIndex(p)] = true
	}
	if onlyReplaceFailed(s.job) {
		for _, p := range s.pods {
			if terminating(p) {
				taken[completionIndex(p)] = true
			}
		}
	}
	var wait time.Duration
	idx := firstPendingIndexes(n, int(*s.job.Spec.Completions), s.done, func(i int) bool {
		if taken[i] || inList(s.failedIndexes, i) {
			return true
		}
		if p, ok := s.delayed[i]; ok {
			f, _ := replacementCounts(s.job, p)
			if left := backoffRemaining(f, finishTime(p, s.now), s.now); left > 0 {
				if wait == 0 || left < wait {
					wait = left
				}
				return true
			}
		}
		return false
	})
	return idx, wait
}

// inList: i is in the list, which may be nil.
func inList(iv *intervals, i int) bool { return iv != nil && iv.has(i) }

// podsForRemoval picks at least n active pods to delete: first, for Indexed Jobs, pods of failed or invalid
// indexes and duplicates of an index (keeping the most advanced), then in upstream's order of least progress.
func (s *state) podsForRemoval(n int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if indexed(s.job) {
		byIndex := map[int][]*corev1.Pod{}
		for _, p := range s.active {
			ix, ok := validIndex(s.job, p)
			if !ok || inList(s.failedIndexes, ix) {
				rm = append(rm, p)
				continue
			}
			byIndex[ix] = append(byIndex[ix], p)
		}
		for _, ps := range byIndex {
			sortLeastProgress(ps)
			rm = append(rm, ps[:len(ps)-1]...)
			left = append(left, ps[len(ps)-1])
		}
	} else {
		left = append(left, s.active...)
	}
	if len(rm) < n {
		sortLeastProgress(left)
		rm = append(rm, left[:min(n-len(rm), len(left))]...)
	}
	return rm
}

// sortLeastProgress orders pods as upstream's ActivePods: unscheduled, pending, unknown, running; not ready
// before ready; ready more recently first; more restarts first; newer first.
func sortLeastProgress(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return controllerutil.DeleteFirst(pods[i], pods[j]) })
}

// slowStart runs fn n times in batches of 1, 2, 4, ... stopping after the first batch with a failure, as
// upstream does so a failing create is not hammered. fn(i) reports whether it made something; slowStart
// returns how many did.
func slowStart(n int, fn func(i int) (bool, error)) (int, error) {
	made, next := 0, 0
	for batch := 1; next < n; batch *= 2 {
		size := min(batch, n-next)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for i := next; i < next+size; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ok, err := fn(i)
				mu.Lock()
				defer mu.Unlock()
				if ok {
					made++
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}(i)
		}
		wg.Wait()
		next += size
		if firstErr != nil {
			return made, firstErr
		}
	}
	return made, nil
}

func (c *Controller) createPod(ctx context.Context, s *state, tmpl *corev1.PodTemplateSpec, index int) (bool, error) {
	job := s.job
	t := tmpl
	generateName := job.Name + "-"
	if index != noIndex {
		t = tmpl.DeepCopy()
		v := strconv.Itoa(index)
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		t.Annotations[batchv1.JobCompletionIndexAnnotation] = v
		t.Labels[batchv1.JobCompletionIndexAnnotation] = v
		if host := fmt.Sprintf("%s-%d", job.Name, index); len(host) <= 63 {
			t.Spec.Hostname = host
		}
		generateName = indexedGenerateName(job.Name, index)
		if perIndexBackoff(job) {
			var failures, ignored int32
			if p, ok := s.delayed[index]; ok {
				failures, ignored = replacementCounts(job, p)
			}
			t.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(failures))
			if ignored > 0 {
				t.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
			}
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName, Namespace: job.Namespace,
			Labels: copyMap(t.Labels), Annotations: copyMap(t.Annotations), Finalizers: append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, jobKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	created, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return false, nil // every later create fails the same way; nothing to retry
		}
		c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return false, err
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
	return true, nil
}

// deletePods deletes pods in parallel. dropFinalizer removes the tracking finalizer first, so the pods are not
// counted as failures (scale-down, suspend); a finishing Job keeps it, and counts them. It returns how many
// are gone or going, and how many of those were ready.
func (c *Controller) deletePods(ctx context.Context, s *state, pods []*corev1.Pod, dropFinalizer bool) (int32, int32, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var deleted, readyDeleted int32
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, p := range pods {
		wg.Add(1)
		go func(p *corev1.Pod) {
			defer wg.Done()
			c.exp.Expect(s.key, 0, []types.UID{p.UID})
			if dropFinalizer && hasFinalizer(p) {
				c.exp.expectFinalizerRemoval(s.key, p.UID)
				if err := c.removeFinalizer(ctx, p); err != nil {
					c.exp.finalizerRemovalObserved(s.key, p.UID)
					c.exp.DeletionObserved(s.key, p.UID)
					fail(err)
					return
				}
				s.mu.Lock()
				s.handled[p.UID] = true
				s.mu.Unlock()
			}
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			if err != nil {
				c.exp.DeletionObserved(s.key, p.UID)
				if !apierrors.IsNotFound(err) {
					c.recorder.Eventf(s.job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
					fail(err)
					return
				}
			} else {
				c.recorder.Eventf(s.job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			}
			mu.Lock()
			deleted++
			if controllerutil.PodReady(p) {
				readyDeleted++
			}
			mu.Unlock()
		}(p)
	}
	wg.Wait()
	return deleted, readyDeleted, firstErr
}

// canRemoveFinalizer: the pod is done with as far as the Job's accounting goes.
func (s *state) canRemoveFinalizer(p *corev1.Pod, failed bool) bool {
	if s.job.DeletionTimestamp != nil || s.finish != nil || p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if !failed {
		return false
	}
	if ix, ok := validIndex(s.job, p); ok {
		if d, ok := s.delayed[ix]; ok && d.UID == p.UID {
			return false // its failure count goes to the replacement first
		}
	}
	return true
}

// track is upstream's finalizer-based accounting. Finished pods still holding the tracking finalizer are first
// recorded in status.uncountedTerminatedPods (or, for Indexed Jobs, completedIndexes) and written; then their
// finalizers are removed; then pods whose finalizer is gone move from the uncounted lists to the succeeded
// and failed counters. A crash between steps loses or doubles nothing. Once the outcome is known and no pod
// is left uncounted or terminating, the terminal condition is set.
func (c *Controller) track(ctx context.Context, s *state) error {
	job, st := s.job, &s.job.Status
	unc := st.UncountedTerminatedPods
	var toRemove []*corev1.Pod
	var newDone []int
	full := false
	for _, p := range s.pods {
		if !hasFinalizer(p) || s.expectedRm[p.UID] || s.handled[p.UID] {
			continue
		}
		failed := podFailed(p, job)
		if !s.canRemoveFinalizer(p, failed) {
			continue
		}
		toRemove = append(toRemove, p)
		ix, valid := validIndex(job, p)
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !s.uncountedFailed[p.UID]:
			if indexed(job) {
				if valid && !s.prevDone.has(ix) {
					newDone = append(newDone, ix)
				}
			} else if !s.uncountedSucceeded[p.UID] {
				unc.Succeeded = append(unc.Succeeded, p.UID)
				s.uncountedSucceeded[p.UID] = true
			}
		case failed || (s.finish != nil && s.finish.Type == batchv1.JobFailureTarget):
			// A failing Job counts every pod it stops as failed.
			if !s.uncountedFailed[p.UID] && (!indexed(job) || valid) && matchFailurePolicy(job.Spec.PodFailurePolicy, p).count {
				unc.Failed = append(unc.Failed, p.UID)
				s.uncountedFailed[p.UID] = true
			}
		}
		if len(newDone)+len(unc.Succeeded)+len(unc.Failed) >= maxUncounted {
			full = true
			break
		}
	}
	if indexed(job) {
		done := s.prevDone.withIndexes(newDone)
		st.CompletedIndexes = done.String()
		st.Succeeded = int32(done.total())
		if s.failedIndexes != nil {
			f := s.failedIndexes.String()
			st.FailedIndexes = &f
		}
	}
	var final *batchv1.JobCondition
	if s.finish != nil {
		if findCondition(st, s.finish.Type) == nil {
			st.Conditions = append(st.Conditions, *s.finish)
		}
		t := batchv1.JobFailed
		if s.finish.Type == batchv1.JobSuccessCriteriaMet {
			t = batchv1.JobComplete
		}
		final = newCondition(t, s.finish.Reason, s.finish.Message, s.now)
	}
	// Step 1: the uncounted pods are on record before their finalizers go.
	if err := c.writeStatus(ctx, s); err != nil {
		return err
	}
	// Step 2: remove the finalizers.
	removed := map[types.UID]bool{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, p := range toRemove {
		wg.Add(1)
		go func(p *corev1.Pod) {
			defer wg.Done()
			c.exp.expectFinalizerRemoval(s.key, p.UID)
			err := c.removeFinalizer(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				c.exp.finalizerRemovalObserved(s.key, p.UID)
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			removed[p.UID] = true
		}(p)
	}
	wg.Wait()
	// Step 3: count the pods whose finalizer is gone.
	holding := map[types.UID]bool{}
	for _, p := range s.pods {
		if hasFinalizer(p) && !s.expectedRm[p.UID] && !s.handled[p.UID] && !removed[p.UID] {
			holding[p.UID] = true
		}
	}
	keepSucceeded := unc.Succeeded[:0:0]
	for _, u := range unc.Succeeded {
		if holding[u] {
			keepSucceeded = append(keepSucceeded, u)
		} else {
			st.Succeeded++
		}
	}
	keepFailed := unc.Failed[:0:0]
	for _, u := range unc.Failed {
		if holding[u] {
			keepFailed = append(keepFailed, u)
		} else {
			st.Failed++
		}
	}
	unc.Succeeded, unc.Failed = keepSucceeded, keepFailed
	if firstErr != nil {
		if err := c.writeStatus(ctx, s); err != nil {
			return err
		}
		return firstErr
	}
	enacted := false
	if final != nil && !full && len(unc.Succeeded)+len(unc.Failed) == 0 && s.terminating == 0 {
		setCondition(st, final.Type, corev1.ConditionTrue, final.Reason, final.Message, s.now)
		if final.Type == batchv1.JobComplete {
			t := findCondition(st, batchv1.JobComplete).LastTransitionTime
			st.CompletionTime = &t
		}
		enacted = true
	}
	if err := c.writeStatus(ctx, s); err != nil {
		return err
	}
	if enacted {
		if final.Type == batchv1.JobComplete {
			if job.Spec.Completions != nil && st.Succeeded > *job.Spec.Completions {
				c.recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
			}
			c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		} else {
			c.recorder.Event(job, corev1.EventTypeWarning, final.Reason, final.Message)
		}
	}
	return nil
}

// writeStatus writes the Job's status when it differs from what the API server has.
func (c *Controller) writeStatus(ctx context.Context, s *state) error {
	if apiequality.Semantic.DeepEqual(s.stored, s.job.Status) {
		return nil
	}
	out, err := c.client.BatchV1().Jobs(s.job.Namespace).UpdateStatus(ctx, s.job, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	s.job.ResourceVersion = out.ResourceVersion
	s.stored = *s.job.Status.DeepCopy()
	return nil
}

func findCondition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func newCondition(t batchv1.JobConditionType, reason, message string, now time.Time) *batchv1.JobCondition {
	ts := metav1.NewTime(now)
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastProbeTime: ts, LastTransitionTime: ts}
}

// setCondition sets a condition as upstream's ensureJobConditionStatus: an existing one is replaced when its
// status, reason or message differ; a missing one is added unless its status would be False. It reports a
// change.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) bool {
	n := newCondition(t, reason, message, now)
	n.Status = status
	if cur := findCondition(st, t); cur != nil {
		if cur.Status == status && cur.Reason == reason && cur.Message == message {
			return false
		}
		*cur = *n
		return true
	}
	if status == corev1.ConditionFalse {
		return false
	}
	st.Conditions = append(st.Conditions, *n)
	return true
}

func (c *Controller) backoffFor(k string) backoffRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backoffs[k]
}

func (c *Controller) setBackoff(k string, r *backoffRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == nil || r.failures == 0 {
		delete(c.backoffs, k)
		return
	}
	c.backoffs[k] = *r
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
