package printers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// batch/v1: Job and CronJob.

func init() {
	register(jobColumns, jobCells)
	register(cronJobColumns, cronJobCells)
}

var jobColumns = cols(
	nameColumn(),
	column("Status", "string", "Status of the job."),
	column("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
	column("Duration", "string", "Time required to complete the job."),
	ageColumn(),
	templateColumns(batchv1.JobSpec{}.SwaggerDoc()["selector"]),
)

func jobCells(job *batchv1.Job, now time.Time) []any {
	// COMPLETIONS: "succeeded/completions"; jobs without a completion
	// count finish after one success, and show their parallelism if any.
	var completions string
	switch parallelism := int32Or(job.Spec.Parallelism, 0); {
	case job.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	case parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, parallelism)
	default:
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}

	// DURATION runs from start to completion, or to now while running.
	var took string
	switch {
	case job.Status.StartTime == nil:
	case job.Status.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(job.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}

	names, images := containerCells(job.Spec.Template.Spec.Containers)
	return []any{
		job.Name,
		jobStatus(job),
		completions,
		took,
		age(job.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(job.Spec.Selector),
	}
}

// jobStatus picks the STATUS cell; terminal conditions win over deletion,
// deletion over the transient conditions.
func jobStatus(job *batchv1.Job) string {
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range job.Status.Conditions {
			if c.Type == t {
				return c.Status == corev1.ConditionTrue
			}
		}
		return false
	}
	switch {
	case has(batchv1.JobComplete):
		return "Complete"
	case has(batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case has(batchv1.JobSuspended):
		return "Suspended"
	case has(batchv1.JobFailureTarget):
		return "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

var cronJobColumns = cols(
	nameColumn(),
	column("Schedule", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["schedule"]),
	column("Timezone", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
	column("Suspend", "boolean", batchv1beta1.CronJobSpec{}.SwaggerDoc()["suspend"]),
	column("Active", "integer", batchv1beta1.CronJobStatus{}.SwaggerDoc()["active"]),
	column("Last Schedule", "string", batchv1beta1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
	ageColumn(),
	templateColumns(batchv1.JobSpec{}.SwaggerDoc()["selector"]),
)

func cronJobCells(cj *batchv1.CronJob, now time.Time) []any {
	lastSchedule := none
	if cj.Status.LastScheduleTime != nil {
		lastSchedule = age(*cj.Status.LastScheduleTime, now)
	}
	tmpl := &cj.Spec.JobTemplate.Spec
	names, images := containerCells(tmpl.Template.Spec.Containers)
	return []any{
		cj.Name,
		cj.Spec.Schedule,
		stringOr(cj.Spec.TimeZone, none),
		// A boolean column, but upstream sends the string True/False/<unset>.
		boolPtrCell(cj.Spec.Suspend),
		int64(len(cj.Status.Active)),
		lastSchedule,
		age(cj.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(tmpl.Selector),
	}
}
