package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/test/e2e/framework"
)

// kubectlLong runs kubectl with a timeout longer than kubectlIn's minute (kubectl wait on real pods).
func kubectlLong(t *testing.T, c *framework.Cluster, timeout time.Duration, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// jobManifest is a busybox Job; extra is YAML indented under spec, command the container's shell script.
func jobManifest(name, spec, command string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
%s
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: docker.io/library/busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", %q]
`, name, spec, command)
}

// concurrency follows a Job's pods and records the most running (not finished, not being deleted) at once.
type concurrency struct {
	mu      sync.Mutex
	pods    map[string]*corev1.Pod
	maxLive int
}

func watchConcurrency(ctx context.Context, t *testing.T, c *framework.Cluster, selector string) *concurrency {
	t.Helper()
	cw := &concurrency{pods: map[string]*corev1.Pod{}}
	w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			cw.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(cw.pods, p.Name)
			} else {
				cw.pods[p.Name] = p
			}
			live := 0
			for _, p := range cw.pods {
				if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					live++
				}
			}
			cw.maxLive = max(cw.maxLive, live)
			cw.mu.Unlock()
		}
	}()
	return cw
}

func (cw *concurrency) max() int {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.maxLive
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

// TestJobs runs Jobs on real pods through upstream kubectl: completions with parallelism, a failing Job
// reaching its backoff limit, an Indexed Job whose pods see their index, activeDeadlineSeconds, suspend and
// resume, a pod failure policy and ttlSecondsAfterFinished.
func TestJobs(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	getJob := func(t *testing.T, name string) *batchv1.Job {
		t.Helper()
		j, err := c.Client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	jobPods := func(t *testing.T, name string) []corev1.Pod {
		t.Helper()
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
		if err != nil {
			t.Fatal(err)
		}
		return pods.Items
	}
	events := func(name string) string {
		return kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name="+name, "-o", "custom-columns=REASON:.reason,MESSAGE:.message")
	}

	t.Run("CompletionsWithParallelism", func(t *testing.T) {
		cw := watchConcurrency(ctx, t, c, batchv1.JobNameLabel+"=pi")
		kubectlIn(t, c, jobManifest("pi", "  completions: 3\n  parallelism: 2", "sleep 2; echo done"), "apply", "-f", "-")
		kubectlLong(t, c, 150*time.Second, "", "wait", "--for=condition=complete", "job/pi", "--timeout=120s")
		j := getJob(t, "pi")
		if j.Status.Succeeded != 3 || j.Status.Failed != 0 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil {
			t.Fatalf("status %+v", j.Status)
		}
		if jobCondition(j, batchv1.JobSuccessCriteriaMet) == nil {
			t.Fatalf("no SuccessCriteriaMet: %+v", j.Status.Conditions)
		}
		// The API server generated the selector and labels; the controller made the pods with its finalizer,
		// removed once counted.
		if j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] != string(j.UID) {
			t.Fatalf("selector %+v", j.Spec.Selector)
		}
		pods := jobPods(t, "pi")
		if len(pods) != 3 {
			t.Fatalf("%d pods", len(pods))
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodSucceeded || len(p.Finalizers) != 0 || p.Labels["controller-uid"] != string(j.UID) ||
				metav1.GetControllerOf(&p) == nil || metav1.GetControllerOf(&p).UID != j.UID {
				t.Fatalf("pod %s: phase %s, finalizers %v, labels %v", p.Name, p.Status.Phase, p.Finalizers, p.Labels)
			}
		}
		if m := cw.max(); m > 2 {
			t.Fatalf("%d pods ran at once with parallelism 2", m)
		}
		out := kubectl(t, c, "get", "job", "pi")
		mustContain(t, out, "Complete", "3/3")
		mustContain(t, kubectl(t, c, "logs", "job/pi"), "done")
		mustContain(t, kubectl(t, c, "describe", "job", "pi"), "Pods Statuses:", "3 Succeeded")
		mustContain(t, events("pi"), "SuccessfulCreate", "Created pod: pi-", "Completed", "Job completed")
	})

	t.Run("BackoffLimitExceeded", func(t *testing.T) {
		kubectlIn(t, c, jobManifest("fails", "  backoffLimit: 1", "echo failing; exit 1"), "apply", "-f", "-")
		kubectlLong(t, c, 150*time.Second, "", "wait", "--for=condition=failed", "job/fails", "--timeout=120s")
		j := getJob(t, "fails")
		cond := jobCondition(j, batchv1.JobFailed)
		if cond.Reason != "BackoffLimitExceeded" || cond.Message != "Job has reached the specified backoff limit" || j.Status.Failed != 2 {
			t.Fatalf("status %+v", j.Status)
		}
		if ft := jobCondition(j, batchv1.JobFailureTarget); ft == nil || ft.Reason != "BackoffLimitExceeded" {
			t.Fatalf("conditions %+v", j.Status.Conditions)
		}
		if pods := jobPods(t, "fails"); len(pods) != 2 {
			t.Fatalf("%d pods for backoffLimit 1", len(pods))
		}
		mustContain(t, events("fails"), "BackoffLimitExceeded")
		mustContain(t, kubectl(t, c, "get", "job", "fails"), "Failed")
	})

	t.Run("IndexedCompletionIndex", func(t *testing.T) {
		kubectlIn(t, c, jobManifest("idx", "  completions: 3\n  parallelism: 3\n  completionMode: Indexed", "echo index=$JOB_COMPLETION_INDEX"), "apply", "-f", "-")
		kubectlLong(t, c, 150*time.Second, "", "wait", "--for=condition=complete", "job/idx", "--timeout=120s")
		j := getJob(t, "idx")
		if j.Status.CompletedIndexes != "0-2" || j.Status.Succeeded != 3 {
			t.Fatalf("status %+v", j.Status)
		}
		var seen []string
		for _, p := range jobPods(t, "idx") {
			ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
			if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "idx-"+ix || !strings.HasPrefix(p.Name, "idx-"+ix+"-") {
				t.Fatalf("pod %s: index %q, labels %v, hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
			}
			logs := strings.TrimSpace(kubectl(t, c, "logs", p.Name))
			if logs != "index="+ix {
				t.Fatalf("pod %s (index %s) printed %q", p.Name, ix, logs)
			}
			seen = append(seen, ix)
		}
		sort.Strings(seen)
		if strings.Join(seen, ",") != "0,1,2" {
			t.Fatalf("indexes %v", seen)
		}
	})

	t.Run("ActiveDeadlineSeconds", func(t *testing.T) {
		kubectlIn(t, c, jobManifest("slow", "  activeDeadlineSeconds: 5\n  parallelism: 2\n  completions: 2", "sleep 3600"), "apply", "-f", "-")
		kubectlLong(t, c, 90*time.Second, "", "wait", "--for=condition=failed", "job/slow", "--timeout=60s")
		j := getJob(t, "slow")
		cond := jobCondition(j, batchv1.JobFailed)
		if cond.Reason != "DeadlineExceeded" || cond.Message != "Job was active longer than specified deadline" {
			t.Fatalf("condition %+v", cond)
		}
		if d := cond.LastTransitionTime.Sub(j.Status.StartTime.Time); d < 5*time.Second {
			t.Fatalf("failed %v after the start", d)
		}
		// Failed comes once the stopped pods are gone; they count as failed.
		if j.Status.Active != 0 || j.Status.Failed != 2 || *j.Status.Terminating != 0 {
			t.Fatalf("status %+v", j.Status)
		}
		eventually(t, 30*time.Second, func() error {
			if n := len(jobPods(t, "slow")); n != 0 {
				return fmt.Errorf("%d pods left", n)
			}
			return nil
		})
		mustContain(t, events("slow"), "DeadlineExceeded", "SuccessfulDelete")
	})

	t.Run("SuspendResume", func(t *testing.T) {
		kubectlIn(t, c, jobManifest("pausable", "  completions: 2\n  parallelism: 2", "sleep 4"), "apply", "-f", "-")
		eventually(t, 60*time.Second, func() error {
			if a := getJob(t, "pausable").Status.Active; a != 2 {
				return fmt.Errorf("active %d", a)
			}
			return nil
		})
		kubectl(t, c, "patch", "job", "pausable", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
		eventually(t, 60*time.Second, func() error {
			j := getJob(t, "pausable")
			if c := jobCondition(j, batchv1.JobSuspended); c == nil || c.Reason != "JobSuspended" {
				return fmt.Errorf("conditions %+v", j.Status.Conditions)
			}
			if n := len(jobPods(t, "pausable")); n != 0 || j.Status.Active != 0 {
				return fmt.Errorf("%d pods, active %d", n, j.Status.Active)
			}
			return nil
		})
		j := getJob(t, "pausable")
		if j.Status.Failed != 0 || j.Status.StartTime != nil {
			t.Fatalf("suspending counted failures or kept the start time: %+v", j.Status)
		}
		mustContain(t, kubectl(t, c, "get", "job", "pausable"), "Suspended")
		kubectl(t, c, "patch", "job", "pausable", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		kubectlLong(t, c, 150*time.Second, "", "wait", "--for=condition=complete", "job/pausable", "--timeout=120s")
		j = getJob(t, "pausable")
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobSuspended && (cond.Status != corev1.ConditionFalse || cond.Reason != "JobResumed") {
				t.Fatalf("Suspended condition after resume: %+v", cond)
			}
		}
		if j.Status.Succeeded != 2 || j.Status.Failed != 0 {
			t.Fatalf("status %+v", j.Status)
		}
		mustContain(t, events("pausable"), "Suspended", "Job suspended", "Resumed", "Job resumed")
	})

	t.Run("DeleteRunningJob", func(t *testing.T) {
		kubectlIn(t, c, jobManifest("doomed", "  parallelism: 2\n  completions: 2", "sleep 3600"), "apply", "-f", "-")
		eventually(t, 60*time.Second, func() error {
			if r := getJob(t, "doomed").Status.Ready; r == nil || *r != 2 {
				return fmt.Errorf("ready %v", r)
			}
			return nil
		})
		// The garbage collector deletes the pods; the job controller lets go of their finalizers.
		kubectl(t, c, "delete", "job", "doomed")
		eventually(t, 60*time.Second, func() error {
			if pods := jobPods(t, "doomed"); len(pods) != 0 {
				return fmt.Errorf("%d pods left, finalizers %v", len(pods), pods[0].Finalizers)
			}
			return nil
		})
	})

	t.Run("PodFailurePolicyAndTTL", func(t *testing.T) {
		spec := `  backoffLimit: 5
  ttlSecondsAfterFinished: 3
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: main, operator: In, values: [42]}`
		kubectlIn(t, c, jobManifest("policy", spec, "exit 42"), "apply", "-f", "-")
		var j *batchv1.Job
		eventually(t, 90*time.Second, func() error {
			got, err := c.Client.BatchV1().Jobs("default").Get(ctx, "policy", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if jobCondition(got, batchv1.JobFailed) == nil {
				return fmt.Errorf("conditions %+v", got.Status.Conditions)
			}
			j = got
			return nil
		})
		cond := jobCondition(j, batchv1.JobFailed)
		if cond.Reason != "PodFailurePolicy" || !strings.Contains(cond.Message, "failed with exit code 42 matching FailJob rule at index 0") || j.Status.Failed != 1 {
			t.Fatalf("status %+v", j.Status)
		}
		// ttlSecondsAfterFinished: the Job and, through the garbage collector, its pod go away.
		eventually(t, 60*time.Second, func() error {
			_, err := c.Client.BatchV1().Jobs("default").Get(ctx, "policy", metav1.GetOptions{})
			if err == nil {
				return fmt.Errorf("job still there")
			}
			if n := len(jobPods(t, "policy")); n != 0 {
				return fmt.Errorf("%d pods left", n)
			}
			return nil
		})
	})
}

// TestCronJobs runs a CronJob on a one-minute schedule with real pods: Jobs made by hand from it (kubectl
// create job --from) while it is suspended count towards its history limit; resumed, its scheduled Job comes
// within the minute (or at once, for an activation missed while suspended).
func TestCronJobs(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")}})
	ctx := context.Background()
	kubectlIn(t, c, `apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "* * * * *"
  suspend: true
  successfulJobsHistoryLimit: 2
  failedJobsHistoryLimit: 1
  jobTemplate:
    metadata:
      labels: {app: tick}
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: docker.io/library/busybox:1.36
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "echo tick"]
`, "apply", "-f", "-")
	succeededJobs := func() []string {
		jobs, err := c.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: "app=tick"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, j := range jobs.Items {
			if jobCondition(&j, batchv1.JobComplete) != nil {
				out = append(out, j.Name)
			}
		}
		sort.Strings(out)
		return out
	}

	t.Run("ManualJobsAndHistoryLimit", func(t *testing.T) {
		for _, n := range []string{"manual-1", "manual-2", "manual-3"} {
			kubectl(t, c, "create", "job", n, "--from=cronjob/tick")
			kubectlLong(t, c, 90*time.Second, "", "wait", "--for=condition=complete", "job/"+n, "--timeout=60s")
			time.Sleep(1100 * time.Millisecond) // distinct start times (second precision) for the oldest-first order
		}
		// Three succeeded Jobs, a limit of two.
		eventually(t, 30*time.Second, func() error {
			got := succeededJobs()
			if len(got) != 2 || !strings.Contains(strings.Join(got, ","), "manual-3") {
				return fmt.Errorf("succeeded Jobs kept: %v", got)
			}
			return nil
		})
		out := kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=tick")
		mustContain(t, out, "SuccessfulDelete", "Deleted job manual-1", "UnexpectedJob")
		eventually(t, 30*time.Second, func() error {
			pods, _ := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=manual-1"})
			if len(pods.Items) != 0 {
				return fmt.Errorf("%d pods of the deleted Job left", len(pods.Items))
			}
			return nil
		})
	})

	t.Run("ScheduledJob", func(t *testing.T) {
		if got := succeededJobs(); len(got) != 2 {
			t.Skipf("the manual Jobs did not run: %v", got)
		}
		kubectl(t, c, "patch", "cronjob", "tick", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		var job *batchv1.Job
		eventually(t, 70*time.Second, func() error {
			jobs, err := c.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: "app=tick"})
			if err != nil {
				return err
			}
			for i := range jobs.Items {
				if _, ok := jobs.Items[i].Annotations[batchv1.CronJobScheduledTimestampAnnotation]; ok {
					job = &jobs.Items[i]
					return nil
				}
			}
			return fmt.Errorf("no scheduled Job yet")
		})
		scheduled, err := time.Parse(time.RFC3339, job.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
		if err != nil || scheduled.Second() != 0 || job.Name != fmt.Sprintf("tick-%d", scheduled.Unix()/60) {
			t.Fatalf("job %s scheduled %v (%v)", job.Name, scheduled, err)
		}
		if ref := metav1.GetControllerOf(job); ref == nil || ref.Kind != "CronJob" || ref.Name != "tick" {
			t.Fatalf("owner %+v", job.OwnerReferences)
		}
		kubectlLong(t, c, 90*time.Second, "", "wait", "--for=condition=complete", "job/"+job.Name, "--timeout=60s")
		eventually(t, 30*time.Second, func() error {
			cj, err := c.Client.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cj.Status.LastScheduleTime == nil || !cj.Status.LastScheduleTime.Time.Equal(scheduled) {
				return fmt.Errorf("lastScheduleTime %v, want %v", cj.Status.LastScheduleTime, scheduled)
			}
			if cj.Status.LastSuccessfulTime == nil || len(cj.Status.Active) != 0 {
				return fmt.Errorf("status %+v", cj.Status)
			}
			// History: the newest two successes.
			if got := succeededJobs(); len(got) != 2 || !strings.Contains(strings.Join(got, ","), job.Name) {
				return fmt.Errorf("succeeded Jobs kept: %v", got)
			}
			return nil
		})
		out := kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=tick")
		mustContain(t, out, "SuccessfulCreate", "Created job "+job.Name, "SawCompletedJob")
		mustContain(t, kubectl(t, c, "get", "cronjob", "tick"), "* * * * *")
	})
}
