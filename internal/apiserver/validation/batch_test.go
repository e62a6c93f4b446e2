package validation

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/apiserver/defaults"
)

func job(mut ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: types.UID("uid-1")},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pi", Image: "perl:5"}},
		}}},
	}
	defaults.JobSelector(j)
	for _, m := range mut {
		m(j)
	}
	return j
}

func TestValidateJob(t *testing.T) {
	neg := int32(-1)
	cases := []struct {
		name string
		j    *batchv1.Job
		want []wantErr
	}{
		{"valid", job(), nil},
		{"restartPolicy defaulted to Always", job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }),
			[]wantErr{{req, "spec.template.spec.restartPolicy", `valid values: "OnFailure", "Never"`}}},
		{"selector required", job(func(j *batchv1.Job) { j.Spec.Selector = nil }), []wantErr{{req, "spec.selector", ""}}},
		{"selector mismatch", job(func(j *batchv1.Job) { j.Spec.Template.Labels = map[string]string{"x": "y"} }),
			[]wantErr{{inv, "spec.template.metadata.labels", "`selector` does not match template `labels`"}}},
		{"negative parallelism", job(func(j *batchv1.Job) { j.Spec.Parallelism = &neg }),
			[]wantErr{{inv, "spec.parallelism", "must be greater than or equal to 0"}}},
		{"indexed needs completions", job(func(j *batchv1.Job) {
			m := batchv1.IndexedCompletion
			j.Spec.CompletionMode = &m
			j.Spec.Parallelism = new(int32)
		}), []wantErr{{req, "spec.completions", "when completion mode is Indexed"}}},
		{"per-index needs indexed", job(func(j *batchv1.Job) { one := int32(1); j.Spec.BackoffLimitPerIndex = &one }),
			[]wantErr{{inv, "spec.backoffLimitPerIndex", "requires indexed completion mode"}}},
		{"failure policy needs Never", job(func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}
		}), []wantErr{{inv, "spec.template.spec.restartPolicy", `only "Never" is supported`}}},
		{"exit codes order", job(func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3, 1}}}}}
		}), []wantErr{{inv, "spec.podFailurePolicy.rules[0].onExitCodes.values", "must be ordered"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.j, nil, c.want...) })
	}
}

func TestValidateJobUpdate(t *testing.T) {
	// Updates start from the stored (defaulted) object, as clients do.
	stored := func(mut ...func(*batchv1.Job)) *batchv1.Job {
		j := job(mut...)
		defaults.Default(j)
		return j
	}
	update := func(old *batchv1.Job, mut func(*batchv1.Job)) *batchv1.Job {
		n := old.DeepCopy()
		mut(n)
		return n
	}
	old := stored()
	check(t, update(old, func(j *batchv1.Job) { five := int32(5); j.Spec.Parallelism = &five }), old)
	check(t, update(old, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:6" }), old,
		wantErr{inv, "spec.template", "field is immutable"})
	check(t, update(old, func(j *batchv1.Job) { c := int32(4); j.Spec.Completions = &c }), old,
		wantErr{inv, "spec.completions", "field is immutable"})
	// Suspended, never-started Jobs may be re-targeted by queue controllers.
	susp := stored(func(j *batchv1.Job) { s := true; j.Spec.Suspend = &s })
	check(t, update(susp, func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }), susp)
}

func cronJob(mut ...func(*batchv1.CronJob)) *batchv1.CronJob {
	c := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
		}}},
	}
	for _, m := range mut {
		m(c)
	}
	return c
}

func TestValidateCronJob(t *testing.T) {
	sched := func(s string) func(*batchv1.CronJob) { return func(c *batchv1.CronJob) { c.Spec.Schedule = s } }
	tz := func(s string) func(*batchv1.CronJob) { return func(c *batchv1.CronJob) { c.Spec.TimeZone = &s } }
	cases := []struct {
		name string
		c    *batchv1.CronJob
		want []wantErr
	}{
		{"valid", cronJob(), nil},
		{"names and steps", cronJob(sched("*/15 8-18 * jan-jun mon-fri")), nil},
		{"descriptor", cronJob(sched("@hourly")), nil},
		{"every", cronJob(sched("@every 1h30m")), nil},
		{"time zone", cronJob(tz("Europe/Paris")), nil},
		{"schedule required", cronJob(sched("")), []wantErr{{req, "spec.schedule", ""}}},
		{"field count", cronJob(sched("* * *")), []wantErr{{inv, "spec.schedule", "expected exactly 5 fields, found 3: [* * *]"}}},
		{"minute range", cronJob(sched("61 * * * *")), []wantErr{{inv, "spec.schedule", "end of range (61) above maximum (59): 61"}}},
		{"not a number", cronJob(sched("x * * * *")), []wantErr{{inv, "spec.schedule", "failed to parse int from x"}}},
		{"bad descriptor", cronJob(sched("@fortnightly")), []wantErr{{inv, "spec.schedule", "unrecognized descriptor: @fortnightly"}}},
		{"TZ in schedule", cronJob(sched("TZ=UTC 0 3 * * *")), []wantErr{{inv, "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"}}},
		{"unknown time zone", cronJob(tz("Mars/Olympus")), []wantErr{{inv, "spec.timeZone", "unknown time zone Mars/Olympus"}}},
		{"local time zone", cronJob(tz("Local")), []wantErr{{inv, "spec.timeZone", "must be an explicit time zone"}}},
		{"concurrency", cronJob(func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" }),
			[]wantErr{{unsup, "spec.concurrencyPolicy", ""}}},
		{"template restart policy", cronJob(func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}),
			[]wantErr{{req, "spec.jobTemplate.spec.template.spec.restartPolicy", ""}}},
		{"template selector", cronJob(func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Selector = selector() }),
			[]wantErr{{inv, "spec.jobTemplate.spec.selector", "`selector` will be auto-generated"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.c, nil, c.want...) })
	}
}

func TestCronJobName(t *testing.T) {
	fn := NameValidator(batchv1.SchemeGroupVersion.WithKind("CronJob"))
	if errs := fn(strings.Repeat("a", 52), false); len(errs) != 0 {
		t.Errorf("52 characters rejected: %v", errs)
	}
	if errs := fn(strings.Repeat("a", 53), false); len(errs) != 1 || errs[0] != "must be no more than 52 characters" {
		t.Errorf("53 characters: %v", errs)
	}
}
