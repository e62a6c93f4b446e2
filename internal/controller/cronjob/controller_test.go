package cronjob

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	c      *Controller
	cjs    cache.Indexer
	jobs   cache.Indexer
	rec    *record.FakeRecorder
	now    time.Time
}

var created = time.Date(2026, 3, 2, 10, 0, 30, 0, time.UTC)

func newHarness(t *testing.T, mutate func(*batchv1.CronJob)) *harness {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tick", UID: "cj-uid", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}}}}}
	if mutate != nil {
		mutate(cj)
	}
	client := fake.NewClientset(cj)
	client.PrependReactor("create", "jobs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		j := a.(clienttesting.CreateAction).GetObject().(*batchv1.Job)
		j.UID = types.UID("uid-" + j.Name)
		return false, nil, nil
	})
	h := &harness{t: t, ctx: context.Background(), client: client, rec: record.NewFakeRecorder(1000), now: created,
		cjs:  cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		jobs: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})}
	h.c = &Controller{client: client, cronJobs: batchlisters.NewCronJobLister(h.cjs), jobs: batchlisters.NewJobLister(h.jobs),
		recorder: h.rec, now: func() time.Time { return h.now }}
	h.refresh()
	return h
}

func (h *harness) refresh() {
	for _, idx := range []cache.Indexer{h.cjs, h.jobs} {
		for _, o := range idx.List() {
			_ = idx.Delete(o)
		}
	}
	cjs, _ := h.client.BatchV1().CronJobs("ns").List(h.ctx, metav1.ListOptions{})
	for i := range cjs.Items {
		_ = h.cjs.Add(&cjs.Items[i])
	}
	jobs, _ := h.client.BatchV1().Jobs("ns").List(h.ctx, metav1.ListOptions{})
	for i := range jobs.Items {
		_ = h.jobs.Add(&jobs.Items[i])
	}
}

// sync runs one sync at the harness's time and returns the requeue delay and the CronJob afterwards.
func (h *harness) sync() (time.Duration, *batchv1.CronJob) {
	h.t.Helper()
	after, err := h.c.sync(h.ctx, "ns/tick")
	if err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	h.refresh()
	cj, _ := h.client.BatchV1().CronJobs("ns").Get(h.ctx, "tick", metav1.GetOptions{})
	var d time.Duration = -1
	if after != nil {
		d = *after
	}
	return d, cj
}

func (h *harness) jobNames() []string {
	jobs, _ := h.client.BatchV1().Jobs("ns").List(h.ctx, metav1.ListOptions{})
	var out []string
	for _, j := range jobs.Items {
		out = append(out, j.Name)
	}
	sort.Strings(out)
	return out
}

// finishJob marks a Job Complete or Failed at the harness's time.
func (h *harness) finishJob(name string, t batchv1.JobConditionType) {
	j, err := h.client.BatchV1().Jobs("ns").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	now := metav1.NewTime(h.now)
	j.Status.StartTime = &now
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	if t == batchv1.JobComplete {
		j.Status.CompletionTime = &now
	}
	if _, err := h.client.BatchV1().Jobs("ns").UpdateStatus(h.ctx, j, metav1.UpdateOptions{}); err != nil {
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

func minuteName(t time.Time) string { return fmt.Sprintf("tick-%d", t.Unix()/60) }

func TestCronJobCreatesAtSchedule(t *testing.T) {
	h := newHarness(t, nil)
	after, cj := h.sync()
	// Created at 10:00:30; the first activation is 10:01:00, synced 100 ms after.
	if after != 30*time.Second+nextScheduleDelta || len(h.jobNames()) != 0 || cj.Status.LastScheduleTime != nil {
		t.Fatalf("before the first activation: requeue %v, jobs %v", after, h.jobNames())
	}
	h.now = created.Add(after)
	after, cj = h.sync()
	first := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	if names := h.jobNames(); len(names) != 1 || names[0] != minuteName(first) {
		t.Fatalf("jobs %v", names)
	}
	if after != time.Minute || len(cj.Status.Active) != 1 || !cj.Status.LastScheduleTime.Time.Equal(first) {
		t.Fatalf("requeue %v, status %+v", after, cj.Status)
	}
	j, _ := h.client.BatchV1().Jobs("ns").Get(h.ctx, minuteName(first), metav1.GetOptions{})
	if j.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2026-03-02T10:01:00Z" || j.Labels["app"] != "tick" ||
		!metav1.IsControlledBy(j, cj) {
		t.Fatalf("job %+v", j.ObjectMeta)
	}
	// A second sync in the same minute creates nothing more.
	h.sync()
	if len(h.jobNames()) != 1 {
		t.Fatalf("jobs %v", h.jobNames())
	}
	if ev := h.events(); !strings.Contains(ev, "Normal SuccessfulCreate Created job "+minuteName(first)) {
		t.Fatalf("events:\n%s", ev)
	}
	// The Job completes: it leaves status.active and sets lastSuccessfulTime.
	h.now = h.now.Add(20 * time.Second)
	h.finishJob(minuteName(first), batchv1.JobComplete)
	_, cj = h.sync()
	if len(cj.Status.Active) != 0 || cj.Status.LastSuccessfulTime == nil {
		t.Fatalf("status %+v", cj.Status)
	}
	if ev := h.events(); !strings.Contains(ev, "Normal SawCompletedJob Saw completed job: "+minuteName(first)+", condition: Complete") {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestCronJobHistoryLimits(t *testing.T) {
	h := newHarness(t, func(cj *batchv1.CronJob) { cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](2) })
	start := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		h.now = start.Add(time.Duration(i)*time.Minute + time.Second)
		h.sync()
		name := minuteName(start.Add(time.Duration(i) * time.Minute))
		kind := batchv1.JobComplete
		if i == 1 || i == 2 {
			kind = batchv1.JobFailed
		}
		h.finishJob(name, kind)
		h.sync()
	}
	want := []string{minuteName(start.Add(2 * time.Minute)), minuteName(start.Add(3 * time.Minute)), minuteName(start.Add(4 * time.Minute))}
	sort.Strings(want)
	if got := h.jobNames(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("jobs kept %v, want the last 2 successes and the last failure %v", got, want)
	}
	if ev := h.events(); !strings.Contains(ev, "Normal SuccessfulDelete Deleted job "+minuteName(start)) {
		t.Fatalf("events:\n%s", ev)
	}
}

func TestCronJobConcurrency(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	h := newHarness(t, func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent })
	h.now = start.Add(time.Second)
	h.sync()
	h.now = start.Add(time.Minute + time.Second)
	h.sync()
	if len(h.jobNames()) != 1 {
		t.Fatalf("Forbid started a second Job: %v", h.jobNames())
	}
	if ev := h.events(); !strings.Contains(ev, "JobAlreadyActive") {
		t.Fatalf("events:\n%s", ev)
	}

	h = newHarness(t, func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent })
	h.now = start.Add(time.Second)
	h.sync()
	h.now = start.Add(time.Minute + time.Second)
	_, cj := h.sync()
	if names := h.jobNames(); len(names) != 1 || names[0] != minuteName(start.Add(time.Minute)) || len(cj.Status.Active) != 1 {
		t.Fatalf("Replace: jobs %v, active %v", names, cj.Status.Active)
	}

	h = newHarness(t, nil)
	h.now = start.Add(time.Second)
	h.sync()
	h.now = start.Add(time.Minute + time.Second)
	_, cj = h.sync()
	if len(h.jobNames()) != 2 || len(cj.Status.Active) != 2 {
		t.Fatalf("Allow: jobs %v", h.jobNames())
	}
}

func TestCronJobMissedSchedules(t *testing.T) {
	// Many missed activations: the latest one runs (within the deadline), and the miss count is reported.
	h := newHarness(t, nil)
	h.now = created.Add(3 * time.Hour)
	h.sync()
	latest := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	if names := h.jobNames(); len(names) != 1 || names[0] != minuteName(latest) {
		t.Fatalf("jobs %v", names)
	}
	if ev := h.events(); !strings.Contains(ev, "Warning TooManyMissedTimes too many missed start times") {
		t.Fatalf("events:\n%s", ev)
	}
	// A starting deadline shorter than the delay: the activation is missed.
	h = newHarness(t, func(cj *batchv1.CronJob) {
		cj.Spec.Schedule = "0 * * * *"
		cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10)
	})
	h.now = time.Date(2026, 3, 2, 11, 0, 30, 0, time.UTC)
	after, _ := h.sync()
	if len(h.jobNames()) != 0 || after != 59*time.Minute+30*time.Second+nextScheduleDelta {
		t.Fatalf("jobs %v, requeue %v", h.jobNames(), after)
	}
	// Within the deadline it runs.
	h.now = time.Date(2026, 3, 2, 11, 0, 5, 0, time.UTC)
	h.sync()
	if len(h.jobNames()) != 1 {
		t.Fatalf("jobs %v", h.jobNames())
	}
}

func TestCronJobSuspendAndTimeZone(t *testing.T) {
	h := newHarness(t, func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) })
	h.now = created.Add(5 * time.Minute)
	if after, _ := h.sync(); after != -1 || len(h.jobNames()) != 0 {
		t.Fatalf("suspended: requeue %v, jobs %v", after, h.jobNames())
	}
	h = newHarness(t, func(cj *batchv1.CronJob) {
		cj.Spec.Schedule = "0 12 * * *"
		cj.Spec.TimeZone = ptr.To("Asia/Tokyo") // 12:00 JST is 03:00 UTC
	})
	after, _ := h.sync()
	want := time.Date(2026, 3, 3, 3, 0, 0, 0, time.UTC)
	if got := created.Add(after - nextScheduleDelta); !got.Equal(want) {
		t.Fatalf("next activation %s, want %s", got, want)
	}
	h.now = want.Add(time.Second)
	h.sync()
	j, err := h.client.BatchV1().Jobs("ns").Get(h.ctx, minuteName(want), metav1.GetOptions{})
	if err != nil || j.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2026-03-03T12:00:00+09:00" {
		t.Fatalf("job %v %v", j, err)
	}
}

func TestCronJobMissingAndUnexpectedJobs(t *testing.T) {
	h := newHarness(t, nil)
	h.now = time.Date(2026, 3, 2, 10, 1, 1, 0, time.UTC)
	h.sync()
	name := h.jobNames()[0]
	_ = h.client.BatchV1().Jobs("ns").Delete(h.ctx, name, metav1.DeleteOptions{})
	h.refresh()
	_, cj := h.sync()
	if len(cj.Status.Active) != 0 {
		t.Fatalf("active %v", cj.Status.Active)
	}
	// kubectl create job --from=cronjob/tick: owned, not on record.
	manual := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "manual", UID: "manual-uid",
		Annotations:     map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)}}}
	_, _ = h.client.BatchV1().Jobs("ns").Create(h.ctx, manual, metav1.CreateOptions{})
	h.refresh()
	h.sync()
	ev := h.events()
	if !strings.Contains(ev, "Normal MissingJob Active job went missing: "+name) || !strings.Contains(ev, "Warning UnexpectedJob Saw a job that the controller did not create or forgot: manual") {
		t.Fatalf("events:\n%s", ev)
	}
}
