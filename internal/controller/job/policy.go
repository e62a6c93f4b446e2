package job

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"skiff/internal/controller/controllerutil"
)

// policyMatch is what a Job's podFailurePolicy says about one failed pod.
type policyMatch struct {
	// action is the matching rule's action, or "" when no rule matched.
	action batchv1.PodFailurePolicyAction
	// count: the failure counts towards backoffLimit (false only for Ignore).
	count bool
	// message is set for FailJob: the Job's failure message.
	message string
}

// matchFailurePolicy applies the first rule that matches the failed pod, as upstream: onExitCodes rules look at
// containers (then init containers) that terminated with a non-zero code, optionally only the named one;
// onPodConditions rules at the pod's conditions with the given status. No policy, or no matching rule, means
// the failure counts.
func matchFailurePolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) policyMatch {
	if policy == nil {
		return policyMatch{count: true}
	}
	for i, rule := range policy.Rules {
		var message string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchExitCodes(pod, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			message = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
				cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode, rule.Action, i)
		case len(rule.OnPodConditions) > 0:
			cond := matchPodConditions(pod, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			message = fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
				pod.Namespace, pod.Name, cond.Type, rule.Action, i)
		default:
			continue
		}
		switch rule.Action {
		case batchv1.PodFailurePolicyActionIgnore:
			return policyMatch{action: rule.Action}
		case batchv1.PodFailurePolicyActionFailJob:
			return policyMatch{action: rule.Action, count: true, message: message}
		case batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex:
			return policyMatch{action: rule.Action, count: true}
		}
		// An action this controller does not know: the rule is skipped, as upstream does with disabled ones.
	}
	return policyMatch{count: true}
}

func matchExitCodes(pod *corev1.Pod, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != cs.Name) {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) || (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
				return cs
			}
		}
	}
	return nil
}

func matchPodConditions(pod *corev1.Pod, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		for _, p := range patterns {
			status := p.Status
			if status == "" {
				status = corev1.ConditionTrue
			}
			if c.Type == p.Type && c.Status == status {
				return c
			}
		}
	}
	return nil
}

// onlyReplaceFailed: new pods wait until the ones they replace are Failed, not merely terminating
// (podReplacementPolicy Failed, which a pod failure policy implies).
func onlyReplaceFailed(job *batchv1.Job) bool {
	if job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed {
		return true
	}
	return job.Spec.PodFailurePolicy != nil
}

// terminating: being deleted and not finished.
func terminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && !controllerutil.PodFinished(p)
}

// stoppedByNode: the node agent has torn the pod down and confirmed the deletion (grace period 0). Upstream's
// kubelet would have written phase Failed by then; skiff's agent leaves the last phase, so a pod held by the
// tracking finalizer at this point is as good as Failed.
func stoppedByNode(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.DeletionGracePeriodSeconds != nil && *p.DeletionGracePeriodSeconds == 0
}

// podFailed is upstream's isPodFailed: phase Failed, or, unless only Failed pods are replaced, being deleted
// before it succeeded (orphans and evicted pods may never reach a phase).
func podFailed(p *corev1.Pod, job *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if p.Status.Phase == corev1.PodSucceeded || p.DeletionTimestamp == nil {
		return false
	}
	if onlyReplaceFailed(job) {
		return stoppedByNode(p)
	}
	return true
}

// finishTime is when a finished pod stopped: its containers' last finish, else its deletion, else now.
func finishTime(p *corev1.Pod, now time.Time) time.Time {
	var t time.Time
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
				t = term.FinishedAt.Time
			}
		}
	}
	if t.IsZero() && p.DeletionTimestamp != nil {
		t = p.DeletionTimestamp.Time
	}
	if t.IsZero() {
		t = now
	}
	return t
}

// restartsOnFailure is upstream's pastBackoffLimitOnFailure: with restartPolicy OnFailure, failures are
// container restarts of running and pending pods, and the Job fails once they reach backoffLimit.
func restartsOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, cs := range p.Status.InitContainerStatuses {
			n += cs.RestartCount
		}
		for _, cs := range p.Status.ContainerStatuses {
			n += cs.RestartCount
		}
	}
	limit := backoffLimit(job)
	if limit == 0 {
		return n > 0
	}
	return n >= limit
}

// matchSuccessPolicy checks an Indexed Job's successPolicy against its succeeded indexes: a rule matches when
// all its succeededIndexes succeeded, or succeededCount of them (or of all indexes, when it names none).
func matchSuccessPolicy(policy *batchv1.SuccessPolicy, completions int, done intervals) (string, bool) {
	if policy == nil || len(done) == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		if rule.SucceededIndexes != nil {
			want := parseIntervals(*rule.SucceededIndexes, completions)
			if len(want) == 0 {
				continue
			}
			got := 0
			for _, x := range want {
				for k := x.first; k <= x.last; k++ {
					if done.has(k) {
						got++
					}
				}
			}
			if got == want.total() || (rule.SucceededCount != nil && got >= int(*rule.SucceededCount)) {
				return fmt.Sprintf("Matched rules at index %d", i), true
			}
		} else if rule.SucceededCount != nil && done.total() >= int(*rule.SucceededCount) {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}

// Per-index failure counts ride on pods as annotations, handed from a failed pod to its replacement.
func indexFailureCount(p *corev1.Pod) int32 {
	return annotationInt(p, batchv1.JobIndexFailureCountAnnotation)
}

func indexIgnoredFailureCount(p *corev1.Pod) int32 {
	return annotationInt(p, batchv1.JobIndexIgnoredFailureCountAnnotation)
}

func annotationInt(p *corev1.Pod, key string) int32 {
	v, err := strconv.ParseInt(p.Annotations[key], 10, 32)
	if err != nil || v < 0 {
		return 0
	}
	return int32(v)
}

// indexFailed: with backoffLimitPerIndex, a failed pod fails its index when the policy says FailIndex or when
// its index has used up its retries.
func indexFailed(job *batchv1.Job, p *corev1.Pod) bool {
	if !podFailed(p, job) {
		return false
	}
	m := matchFailurePolicy(job.Spec.PodFailurePolicy, p)
	if m.action == batchv1.PodFailurePolicyActionFailIndex {
		return true
	}
	return m.count && indexFailureCount(p) >= *job.Spec.BackoffLimitPerIndex
}

// replacementCounts are the failure annotations for the pod that replaces failed pod p in its index.
func replacementCounts(job *batchv1.Job, p *corev1.Pod) (failures, ignored int32) {
	failures, ignored = indexFailureCount(p), indexIgnoredFailureCount(p)
	if matchFailurePolicy(job.Spec.PodFailurePolicy, p).count {
		failures++
	} else {
		ignored++
	}
	return failures, ignored
}

// Pod re-creation after failures backs off as upstream: 10 s doubling per consecutive failure, capped at 10
// min, counted from the last failure.
const (
	defaultBackoff = 10 * time.Second
	maxBackoff     = 10 * time.Minute
)

func backoffRemaining(failures int32, last, now time.Time) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := defaultBackoff
	for i := int32(1); i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	if elapsed := now.Sub(last); elapsed < d {
		return d - elapsed
	}
	return 0
}

// backoffRecord is one Job's failures since its last success.
type backoffRecord struct {
	failures    int32
	lastFailure time.Time
}

// next folds newly finished pods into the record, in finish order: a success resets it.
func (r backoffRecord) next(succeeded, failed []*corev1.Pod, now time.Time) backoffRecord {
	type ev struct {
		at time.Time
		ok bool
	}
	var evs []ev
	for _, p := range succeeded {
		evs = append(evs, ev{finishTime(p, now), true})
	}
	for _, p := range failed {
		evs = append(evs, ev{finishTime(p, now), false})
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	for _, e := range evs {
		if e.ok {
			r = backoffRecord{}
			continue
		}
		r.failures++
		if e.at.After(r.lastFailure) {
			r.lastFailure = e.at
		}
	}
	return r
}
