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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/controller/controllerutil"
)

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
