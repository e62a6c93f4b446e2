package job

import (
	"context"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

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
