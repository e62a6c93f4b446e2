package job

import (
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestIntervals(t *testing.T) {
	cases := []struct {
		in          string
		completions int
		add         []int
		want        string
		total       int
	}{
		{"", 10, nil, "", 0},
		{"", 10, []int{4, 0, 1, 2}, "0-2,4", 4},
		{"1", 10, []int{2}, "1,2", 2},
		{"1,2", 10, []int{3}, "1-3", 3},
		{"0-2,4", 10, []int{3}, "0-4", 5},
		{"0-2,6-8", 10, []int{4}, "0-2,4,6-8", 7},
		{"0-2,4", 10, []int{1, 4}, "0-2,4", 4},
		{"3-9", 5, nil, "3,4", 2},          // beyond completions is cut
		{"x,2,5-3,1-1", 10, nil, "1,2", 2}, // bad parts are skipped
		{"7,1,3", 10, nil, "1,3,7", 3},
	}
	for _, c := range cases {
		iv := parseIntervals(c.in, c.completions).withIndexes(c.add)
		if got := iv.String(); got != c.want || iv.total() != c.total {
			t.Errorf("%q + %v = %q (total %d), want %q (%d)", c.in, c.add, got, iv.total(), c.want, c.total)
		}
	}
	iv := parseIntervals("0-2,4,7-9", 10)
	for i, want := range []bool{true, true, true, false, true, false, false, true, true, true, false} {
		if iv.has(i) != want {
			t.Errorf("has(%d) = %v", i, !want)
		}
	}
	if got := firstPendingIndexes(3, 10, iv, func(i int) bool { return i == 5 }); !reflect.DeepEqual(got, []int{3, 6}) {
		t.Errorf("pending indexes %v, want [3 6]", got)
	}
}

func TestIndexedNames(t *testing.T) {
	if got := indexedGenerateName("pi", 3); got != "pi-3-" {
		t.Errorf("generateName %q", got)
	}
	long := "a123456789b123456789c123456789d123456789e123456789f123456789"
	if got := indexedGenerateName(long, 12); len(got) != maxGeneratedNameLength || got[len(got)-4:] != "-12-" {
		t.Errorf("long generateName %q (%d)", got, len(got))
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b", Env: []corev1.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "mine"}}}},
		InitContainers: []corev1.Container{{Name: "i"}}}
	addIndexEnv(&spec)
	if e := spec.Containers[0].Env; len(e) != 1 || e[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("env %+v", e)
	}
	if len(spec.Containers[1].Env) != 1 || spec.Containers[1].Env[0].Value != "mine" || len(spec.InitContainers[0].Env) != 1 {
		t.Errorf("containers %+v", spec)
	}
}

func failedPod(name string, codes map[string]int32, conds ...corev1.PodCondition) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Conditions: conds}}
	for c, code := range codes {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}})
	}
	return p
}

func TestFailurePolicy(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: ptr.To("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1, 2}}},
		{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{2}}},
	}}
	cases := []struct {
		name   string
		pod    *corev1.Pod
		action batchv1.PodFailurePolicyAction
		count  bool
		msg    string
	}{
		{"disrupted", failedPod("p", map[string]int32{"main": 42}, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}), batchv1.PodFailurePolicyActionIgnore, false, ""},
		{"condition false does not match", failedPod("p", map[string]int32{"main": 1}, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionFalse}), "", true, ""},
		{"fail job", failedPod("p", map[string]int32{"main": 42}), batchv1.PodFailurePolicyActionFailJob, true,
			"Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"},
		{"other container's 42 is not In but NotIn", failedPod("p", map[string]int32{"side": 42}), batchv1.PodFailurePolicyActionCount, true, ""},
		{"exit 1: no rule", failedPod("p", map[string]int32{"main": 1}), "", true, ""},
		{"exit 2: fail index", failedPod("p", map[string]int32{"main": 2}), batchv1.PodFailurePolicyActionFailIndex, true, ""},
		{"exit 0 never matches", failedPod("p", map[string]int32{"main": 0}), "", true, ""},
	}
	for _, c := range cases {
		m := matchFailurePolicy(policy, c.pod)
		if m.action != c.action || m.count != c.count || m.message != c.msg {
			t.Errorf("%s: got %+v", c.name, m)
		}
	}
	condPolicy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "ConfigIssue", Status: corev1.ConditionTrue}}}}}
	m := matchFailurePolicy(condPolicy, failedPod("q", nil, corev1.PodCondition{Type: "ConfigIssue", Status: corev1.ConditionTrue}))
	if m.message != "Pod ns/q has condition ConfigIssue matching FailJob rule at index 0" {
		t.Errorf("condition message %q", m.message)
	}
	if m := matchFailurePolicy(nil, failedPod("p", nil)); !m.count || m.action != "" {
		t.Errorf("no policy: %+v", m)
	}
}

func TestPodFailed(t *testing.T) {
	now := metav1.Now()
	job := &batchv1.Job{}
	deleting := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if !podFailed(deleting, job) {
		t.Error("a deleted running pod counts as failed (TerminatingOrFailed)")
	}
	job.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
	if podFailed(deleting, job) {
		t.Error("with podReplacementPolicy Failed a terminating pod is not failed yet")
	}
	deleting.DeletionGracePeriodSeconds = ptr.To[int64](0)
	if !podFailed(deleting, job) {
		t.Error("a pod the node agent has stopped and released counts as failed")
	}
	done := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	if podFailed(done, &batchv1.Job{}) {
		t.Error("a succeeded pod being deleted is not failed")
	}
}

func TestRestartsOnFailure(t *testing.T) {
	job := &batchv1.Job{Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](3), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure}}}}
	pod := func(phase corev1.PodPhase, r int32) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{RestartCount: r}}}}
	}
	if restartsOnFailure(job, []*corev1.Pod{pod(corev1.PodRunning, 1), pod(corev1.PodPending, 1), pod(corev1.PodFailed, 5)}) {
		t.Error("2 restarts of running pods are below 3")
	}
	if !restartsOnFailure(job, []*corev1.Pod{pod(corev1.PodRunning, 2), pod(corev1.PodPending, 1)}) {
		t.Error("3 restarts reach the limit")
	}
	job.Spec.BackoffLimit = ptr.To[int32](0)
	if !restartsOnFailure(job, []*corev1.Pod{pod(corev1.PodRunning, 1)}) {
		t.Error("limit 0: any restart fails the Job")
	}
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if restartsOnFailure(job, []*corev1.Pod{pod(corev1.PodRunning, 9)}) {
		t.Error("only with restartPolicy OnFailure")
	}
}

func TestSuccessPolicy(t *testing.T) {
	done := parseIntervals("0,2-4", 10)
	policy := &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
		{SucceededIndexes: ptr.To("0-1")},
		{SucceededIndexes: ptr.To("2-9"), SucceededCount: ptr.To[int32](3)},
	}}
	if msg, ok := matchSuccessPolicy(policy, 10, done); !ok || msg != "Matched rules at index 1" {
		t.Errorf("got %q %v", msg, ok)
	}
	if _, ok := matchSuccessPolicy(policy, 10, parseIntervals("0,2", 10)); ok {
		t.Error("no rule is met by 0,2")
	}
	count := &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](4)}}}
	if msg, ok := matchSuccessPolicy(count, 10, done); !ok || msg != "Matched rules at index 0" {
		t.Errorf("count rule: %q %v", msg, ok)
	}
}

func TestBackoff(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if d := backoffRemaining(0, now, now); d != 0 {
		t.Errorf("no failures: %v", d)
	}
	if d := backoffRemaining(1, now.Add(-3*time.Second), now); d != 7*time.Second {
		t.Errorf("one failure 3 s ago: %v", d)
	}
	if d := backoffRemaining(3, now, now); d != 40*time.Second {
		t.Errorf("three failures: %v", d)
	}
	if d := backoffRemaining(30, now, now); d != maxBackoff {
		t.Errorf("capped: %v", d)
	}
	at := func(sec int, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(now.Add(time.Duration(sec) * time.Second))}}}}}}
	}
	r := backoffRecord{failures: 2}.next([]*corev1.Pod{at(-5, corev1.PodSucceeded)}, []*corev1.Pod{at(-10, corev1.PodFailed), at(-1, corev1.PodFailed)}, now)
	if r.failures != 1 || !r.lastFailure.Equal(now.Add(-time.Second)) {
		t.Errorf("a success resets the count: %+v", r)
	}
}

func TestSetCondition(t *testing.T) {
	now := time.Now()
	st := &batchv1.JobStatus{}
	if setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now) || len(st.Conditions) != 0 {
		t.Fatal("a False condition is not added")
	}
	if !setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now) {
		t.Fatal("not added")
	}
	if setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now.Add(time.Hour)) {
		t.Fatal("unchanged condition reported a change")
	}
	if !setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now) || st.Conditions[0].Status != corev1.ConditionFalse {
		t.Fatalf("not flipped: %+v", st.Conditions)
	}
}
