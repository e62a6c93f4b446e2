package job

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff/internal/controller/controllerutil"
)

// harness runs the controller's sync against a fake API, with the listers refreshed from it by hand (calling
// the pod event handlers, as an informer would).
type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	c      *Controller
	jobs   cache.Indexer
	pods   cache.Indexer
	rec    *record.FakeRecorder
	now    time.Time
}

func newHarness(t *testing.T, job *batchv1.Job) *harness {
	client := fake.NewClientset(job)
	n := 0
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			n++
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, n)
		}
		p.UID = types.UID("uid-" + p.Name)
		return false, nil, nil
	})
	h := &harness{t: t, ctx: context.Background(), client: client, rec: record.NewFakeRecorder(1000),
		jobs: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		pods: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		now:  time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	h.c = newController(client, batchlisters.NewJobLister(h.jobs), corelisters.NewPodLister(h.pods), h.rec)
	h.c.now = func() time.Time { return h.now }
	h.refresh()
	return h
}

func testJob(name string, mutate func(*batchv1.Job)) *batchv1.Job {
	uid := types.UID("job-" + name)
	l := map[string]string{batchv1.ControllerUidLabel: string(uid), batchv1.JobNameLabel: name}
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid},
		Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}}
	if mutate != nil {
		mutate(j)
	}
	return j
}

// refresh copies the fake API's Jobs and pods into the listers, calling the pod handlers for changes.
func (h *harness) refresh() {
	jobs, _ := h.client.BatchV1().Jobs("").List(h.ctx, metav1.ListOptions{})
	for _, o := range h.jobs.List() {
		_ = h.jobs.Delete(o)
	}
	for i := range jobs.Items {
		_ = h.jobs.Add(&jobs.Items[i])
	}
	pods, _ := h.client.CoreV1().Pods("").List(h.ctx, metav1.ListOptions{})
	seen := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		seen[p.Name] = true
		old, ok, _ := h.pods.Get(p)
		_ = h.pods.Add(p)
		switch {
		case !ok:
			h.c.podAdded(p)
		case !apiequality.Semantic.DeepEqual(old, p):
			o := old.(*corev1.Pod).DeepCopy()
			o.ResourceVersion = "old"
			h.c.podUpdated(o, p)
		}
	}
	for _, o := range h.pods.List() {
		if p := o.(*corev1.Pod); !seen[p.Name] {
			_ = h.pods.Delete(p)
			h.c.podDeleted(p, true)
		}
	}
}

func (h *harness) sync(name string) *batchv1.Job {
	h.t.Helper()
	if err := h.c.sync(h.ctx, "ns/"+name); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	h.refresh()
	j, err := h.client.BatchV1().Jobs("ns").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

func (h *harness) podList() []corev1.Pod {
	pods, _ := h.client.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
	return pods.Items
}

func (h *harness) activePods() []corev1.Pod {
	var out []corev1.Pod
	for _, p := range h.podList() {
		if !controllerutil.PodFinished(&p) && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// finish makes a pod end with the exit code.
func (h *harness) finish(name string, code int32) {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("ns").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	p.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(h.now)}}}}
	if _, err := h.client.CoreV1().Pods("ns").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.refresh()
}

func (h *harness) events() string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return strings.Join(out, "\n")
		}
	}
}

func cond(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	return findCondition(&j.Status, t)
}

func TestSyncCompletions(t *testing.T) {
	h := newHarness(t, testJob("pi", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](2) }))
	j := h.sync("pi")
	pods := h.podList()
	if len(pods) != 2 || j.Status.Active != 2 || j.Status.StartTime == nil {
		t.Fatalf("first sync: %d pods, status %+v", len(pods), j.Status)
	}
	p := pods[0]
	if !hasFinalizer(&p) || metav1.GetControllerOf(&p).UID != j.UID || p.Labels[batchv1.JobNameLabel] != "pi" || !strings.HasPrefix(p.Name, "pi-") {
		t.Fatalf("pod %+v", p.ObjectMeta)
	}
	h.finish(pods[0].Name, 0)
	j = h.sync("pi")
	if j.Status.Succeeded != 1 || j.Status.Active != 2 || len(j.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Fatalf("after one success: %+v", j.Status)
	}
	if first, _ := h.client.CoreV1().Pods("ns").Get(h.ctx, pods[0].Name, metav1.GetOptions{}); hasFinalizer(first) {
		t.Fatal("counted pod keeps its finalizer")
	}
	for _, p := range h.activePods() {
		h.finish(p.Name, 0)
	}
	j = h.sync("pi")
	if j.Status.Succeeded != 3 || j.Status.Active != 0 || j.Status.CompletionTime == nil {
		t.Fatalf("after all: %+v", j.Status)
	}
	if c := cond(j, batchv1.JobSuccessCriteriaMet); c == nil || c.Reason != "CompletionsReached" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if c := cond(j, batchv1.JobComplete); c == nil || c.Status != corev1.ConditionTrue || c.Message != "Reached expected number of succeeded pods" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	ev := h.events()
	if strings.Count(ev, "SuccessfulCreate Created pod: pi-") != 3 || !strings.Contains(ev, "Normal Completed Job completed") {
		t.Fatalf("events:\n%s", ev)
	}
	for _, p := range h.podList() {
		if hasFinalizer(&p) {
			t.Fatalf("pod %s keeps its finalizer", p.Name)
		}
	}
}

func TestSyncWorkQueue(t *testing.T) {
	h := newHarness(t, testJob("wq", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](3) }))
	h.sync("wq")
	pods := h.podList()
	if len(pods) != 3 {
		t.Fatalf("%d pods", len(pods))
	}
	h.finish(pods[0].Name, 0)
	j := h.sync("wq")
	if len(h.podList()) != 3 || j.Status.Active != 2 || j.Status.Succeeded != 1 || finished(j) {
		t.Fatalf("after the first success no new pod, the others run on: %+v", j.Status)
	}
	h.finish(pods[1].Name, 0)
	h.finish(pods[2].Name, 1) // failures after a success are counted but do not matter
	j = h.sync("wq")
	if cond(j, batchv1.JobComplete) == nil || j.Status.Succeeded != 2 || j.Status.Failed != 1 {
		t.Fatalf("work queue done: %+v", j.Status)
	}
}

func TestSyncBackoffLimit(t *testing.T) {
	h := newHarness(t, testJob("bad", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](1) }))
	h.sync("bad")
	h.finish(h.podList()[0].Name, 1)
	j := h.sync("bad")
	if j.Status.Failed != 1 || len(h.podList()) != 1 || finished(j) {
		t.Fatalf("after the first failure the replacement waits out the back-off: %+v, %d pods", j.Status, len(h.podList()))
	}
	h.now = h.now.Add(11 * time.Second)
	h.sync("bad")
	if len(h.activePods()) != 1 {
		t.Fatalf("no replacement after the back-off")
	}
	h.finish(h.activePods()[0].Name, 1)
	j = h.sync("bad")
	c := cond(j, batchv1.JobFailed)
	if c == nil || c.Reason != "BackoffLimitExceeded" || c.Message != "Job has reached the specified backoff limit" || j.Status.Failed != 2 {
		t.Fatalf("status %+v", j.Status)
	}
	if ft := cond(j, batchv1.JobFailureTarget); ft == nil || ft.Reason != "BackoffLimitExceeded" {
		t.Fatalf("no FailureTarget before Failed: %+v", j.Status.Conditions)
	}
	if j.Status.CompletionTime != nil {
		t.Fatal("a failed Job has no completionTime")
	}
	if ev := h.events(); !strings.Contains(ev, "Warning BackoffLimitExceeded Job has reached the specified backoff limit") {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestSyncDeadline(t *testing.T) {
	h := newHarness(t, testJob("slow", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](5) }))
	h.sync("slow")
	h.now = h.now.Add(6 * time.Second)
	h.sync("slow")
	j := h.sync("slow")
	if ft := cond(j, batchv1.JobFailureTarget); ft == nil || ft.Reason != "DeadlineExceeded" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	// The fake API deletes at once; a real pod would be terminating and hold the Failed condition back.
	if len(h.podList()) != 0 || cond(j, batchv1.JobFailed) == nil || j.Status.Failed != 1 || j.Status.Active != 0 {
		t.Fatalf("pods %d, status %+v", len(h.podList()), j.Status)
	}
	if c := cond(j, batchv1.JobFailed); c.Message != "Job was active longer than specified deadline" {
		t.Fatalf("message %q", c.Message)
	}
}

func TestSyncTerminatingDelaysFailed(t *testing.T) {
	h := newHarness(t, testJob("t", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](5) }))
	h.sync("t")
	// Deletions mark pods terminating instead of removing them, as a node-bound pod is.
	h.client.PrependReactor("delete", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		name := a.(clienttesting.DeleteAction).GetName()
		p, err := h.client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "ns", name)
		if err != nil {
			return true, nil, err
		}
		pod := p.(*corev1.Pod).DeepCopy()
		ts := metav1.NewTime(h.now)
		pod.DeletionTimestamp = &ts
		return true, nil, h.client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), pod, "ns")
	})
	h.now = h.now.Add(6 * time.Second)
	j := h.sync("t")
	if cond(j, batchv1.JobFailureTarget) == nil || cond(j, batchv1.JobFailed) != nil || *j.Status.Terminating != 1 {
		t.Fatalf("while a pod terminates: %+v", j.Status)
	}
	if j.Status.Failed != 1 || hasFinalizer(&h.podList()[0]) {
		t.Fatalf("the stopped pod is counted and released: %+v", j.Status)
	}
	_ = h.client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "ns", h.podList()[0].Name)
	h.refresh()
	j = h.sync("t")
	if c := cond(j, batchv1.JobFailed); c == nil || c.Reason != "DeadlineExceeded" || *j.Status.Terminating != 0 || j.Status.Failed != 1 {
		t.Fatalf("after the pod is gone: %+v", j.Status)
	}
}

func TestSyncIndexed(t *testing.T) {
	h := newHarness(t, testJob("ix", func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](3)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	}))
	h.sync("ix")
	byIndex := map[string]corev1.Pod{}
	for _, p := range h.podList() {
		byIndex[p.Annotations[batchv1.JobCompletionIndexAnnotation]] = p
	}
	if len(byIndex) != 3 || byIndex["0"].Name == "" || byIndex["2"].Name == "" {
		t.Fatalf("indexes %v", byIndex)
	}
	p := byIndex["1"]
	if !strings.HasPrefix(p.Name, "ix-1-") || p.Spec.Hostname != "ix-1" || p.Labels[batchv1.JobCompletionIndexAnnotation] != "1" ||
		p.Spec.Containers[0].Env[0].Name != "JOB_COMPLETION_INDEX" {
		t.Fatalf("pod %s %+v %+v", p.Name, p.Labels, p.Spec)
	}
	h.finish(byIndex["0"].Name, 0)
	h.finish(byIndex["2"].Name, 0)
	j := h.sync("ix")
	if j.Status.CompletedIndexes != "0,2" || j.Status.Succeeded != 2 || j.Status.Active != 2 {
		t.Fatalf("status %+v", j.Status)
	}
	for _, p := range h.activePods() {
		h.finish(p.Name, 0)
	}
	j = h.sync("ix")
	if j.Status.CompletedIndexes != "0-3" || cond(j, batchv1.JobComplete) == nil {
		t.Fatalf("status %+v", j.Status)
	}
}

func TestSyncFailurePolicy(t *testing.T) {
	h := newHarness(t, testJob("pfp", func(j *batchv1.Job) {
		j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](2), ptr.To[int32](2)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}}},
			{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		}}
	}))
	h.sync("pfp")
	pods := h.podList()
	h.finish(pods[0].Name, 3)
	j := h.sync("pfp")
	if j.Status.Failed != 0 || len(h.activePods()) != 2 {
		t.Fatalf("an ignored failure is replaced at once and not counted: %+v", j.Status)
	}
	h.finish(pods[1].Name, 42)
	h.sync("pfp") // stops the other pod, then Failed once it is gone
	j = h.sync("pfp")
	c := cond(j, batchv1.JobFailed)
	if c == nil || c.Reason != "PodFailurePolicy" || !strings.Contains(c.Message, "failed with exit code 42 matching FailJob rule at index 1") {
		t.Fatalf("status %+v", j.Status)
	}
	if len(h.activePods()) != 0 || j.Status.Failed != 2 {
		t.Fatalf("the remaining pod is stopped and counted: %+v", j.Status)
	}
}

func TestSyncSuspend(t *testing.T) {
	h := newHarness(t, testJob("s", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }))
	j := h.sync("s")
	if len(h.podList()) != 0 || j.Status.StartTime != nil {
		t.Fatalf("suspended Job started: %+v", j.Status)
	}
	if c := cond(j, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "JobSuspended" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	j.Spec.Suspend = ptr.To(false)
	if _, err := h.client.BatchV1().Jobs("ns").Update(h.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	j = h.sync("s")
	if len(h.activePods()) != 1 || j.Status.StartTime == nil {
		t.Fatalf("resumed: %+v", j.Status)
	}
	if c := cond(j, batchv1.JobSuspended); c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	j.Spec.Suspend = ptr.To(true)
	_, _ = h.client.BatchV1().Jobs("ns").Update(h.ctx, j, metav1.UpdateOptions{})
	h.refresh()
	j = h.sync("s")
	if len(h.activePods()) != 0 || j.Status.Failed != 0 || j.Status.StartTime != nil {
		t.Fatalf("suspending deletes pods without counting them: %+v", j.Status)
	}
	if ev := h.events(); !strings.Contains(ev, "Normal Suspended Job suspended") || !strings.Contains(ev, "Normal Resumed Job resumed") {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestOrphanFinalizer(t *testing.T) {
	h := newHarness(t, testJob("gone", nil))
	h.sync("gone")
	name := h.podList()[0].Name
	if err := h.client.BatchV1().Jobs("ns").Delete(h.ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	if err := h.c.syncOrphan(h.ctx, "ns/"+name); err != nil {
		t.Fatal(err)
	}
	p, _ := h.client.CoreV1().Pods("ns").Get(h.ctx, name, metav1.GetOptions{})
	if hasFinalizer(p) {
		t.Fatal("the orphan keeps its finalizer")
	}
}

func TestTTLExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	j := testJob("done", func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](30) })
	if needsCleanup(j) {
		t.Fatal("an unfinished Job has nothing to clean")
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-10 * time.Second))}}
	if left, ok := expiresIn(j, now); !needsCleanup(j) || !ok || left != 20*time.Second {
		t.Fatalf("expires in %v %v", left, ok)
	}
}

func TestSyncBackoffLimitPerIndex(t *testing.T) {
	h := newHarness(t, testJob("pi", func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
		j.Spec.BackoffLimit = ptr.To[int32](1 << 30)
	}))
	h.sync("pi")
	byIndex := func() map[string][]corev1.Pod {
		out := map[string][]corev1.Pod{}
		for _, p := range h.podList() {
			ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
			out[ix] = append(out[ix], p)
		}
		return out
	}
	first := byIndex()["0"][0]
	if first.Annotations[batchv1.JobIndexFailureCountAnnotation] != "0" {
		t.Fatalf("annotations %v", first.Annotations)
	}
	h.finish(first.Name, 1)
	j := h.sync("pi")
	if p, _ := h.client.CoreV1().Pods("ns").Get(h.ctx, first.Name, metav1.GetOptions{}); !hasFinalizer(p) {
		t.Fatal("the failed pod of an index to retry keeps its finalizer until it is replaced")
	}
	if len(byIndex()["0"]) != 1 || j.Status.FailedIndexes == nil || *j.Status.FailedIndexes != "" {
		t.Fatalf("replaced before the back-off: %+v", j.Status)
	}
	h.now = h.now.Add(11 * time.Second)
	h.sync("pi")
	j = h.sync("pi")
	pods := byIndex()["0"]
	if len(pods) != 2 || j.Status.Failed != 1 {
		t.Fatalf("index 0: %d pods, status %+v", len(pods), j.Status)
	}
	var second corev1.Pod
	for _, p := range pods {
		if p.Name != first.Name {
			second = p
		}
	}
	if second.Annotations[batchv1.JobIndexFailureCountAnnotation] != "1" {
		t.Fatalf("replacement annotations %v", second.Annotations)
	}
	if p, _ := h.client.CoreV1().Pods("ns").Get(h.ctx, first.Name, metav1.GetOptions{}); hasFinalizer(p) {
		t.Fatal("the replaced pod keeps its finalizer")
	}
	h.finish(second.Name, 1)
	h.finish(byIndex()["1"][0].Name, 0)
	j = h.sync("pi")
	c := cond(j, batchv1.JobFailed)
	if c == nil || c.Reason != "FailedIndexes" || *j.Status.FailedIndexes != "0" || j.Status.CompletedIndexes != "1" || j.Status.Failed != 2 {
		t.Fatalf("status %+v", j.Status)
	}
}

func TestSyncSuccessPolicy(t *testing.T) {
	h := newHarness(t, testJob("leader", func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
	}))
	h.sync("leader")
	for _, p := range h.podList() {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
			h.finish(p.Name, 0)
		}
	}
	h.sync("leader")
	j := h.sync("leader")
	if c := cond(j, batchv1.JobSuccessCriteriaMet); c == nil || c.Reason != "SuccessPolicy" || c.Message != "Matched rules at index 0" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if c := cond(j, batchv1.JobComplete); c == nil || c.Reason != "SuccessPolicy" || j.Status.Failed != 0 || j.Status.Succeeded != 1 || len(h.activePods()) != 0 {
		t.Fatalf("status %+v, %d active", j.Status, len(h.activePods()))
	}
}

func TestSyncIdempotent(t *testing.T) {
	h := newHarness(t, testJob("still", func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](2)
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](600)
	}))
	h.sync("still")
	h.finish(h.podList()[0].Name, 0)
	h.sync("still")
	before := len(h.client.Actions())
	h.now = h.now.Add(time.Second)
	h.sync("still")
	h.sync("still")
	for _, a := range h.client.Actions()[before:] {
		if a.GetVerb() != "list" && a.GetVerb() != "get" {
			t.Errorf("a sync with nothing new wrote: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}
