package defaults

import (
	"math"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Unprefixed job labels upstream still writes for older clients.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

func job(j *batchv1.Job) {
	spec := &j.Spec
	// A non-parallel Job may leave both unset; then both mean 1.
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = int32Ptr(1)
		spec.Parallelism = int32Ptr(1)
	}
	if spec.Parallelism == nil {
		spec.Parallelism = int32Ptr(1)
	}
	if spec.BackoffLimit == nil {
		// With a per-index limit the global one is effectively disabled.
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = int32Ptr(math.MaxInt32)
		} else {
			spec.BackoffLimit = int32Ptr(6)
		}
	}
	if l := spec.Template.Labels; l != nil && len(j.Labels) == 0 {
		j.Labels = copyMap(l)
	}
	if spec.CompletionMode == nil {
		m := batchv1.NonIndexedCompletion
		spec.CompletionMode = &m
	}
	if spec.Suspend == nil {
		spec.Suspend = boolPtr(false)
	}
	if spec.PodReplacementPolicy == nil {
		// A pod failure policy needs to see pods fully terminated.
		p := batchv1.TerminatingOrFailed
		if spec.PodFailurePolicy != nil {
			p = batchv1.Failed
		}
		spec.PodReplacementPolicy = &p
	}
	if spec.ManualSelector == nil {
		spec.ManualSelector = boolPtr(false)
	}
	jobSpecCommon(spec)
}

// jobSpecCommon holds the defaults that also reach a CronJob's job template
// (upstream only runs the Job-level function on Job objects).
func jobSpecCommon(spec *batchv1.JobSpec) {
	if pfp := spec.PodFailurePolicy; pfp != nil {
		for i := range pfp.Rules {
			for k := range pfp.Rules[i].OnPodConditions {
				if pfp.Rules[i].OnPodConditions[k].Status == "" {
					pfp.Rules[i].OnPodConditions[k].Status = corev1.ConditionTrue
				}
			}
		}
	}
	podTemplateSpec(&spec.Template)
}

func cronJob(c *batchv1.CronJob) {
	if c.Spec.ConcurrencyPolicy == "" {
		c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if c.Spec.Suspend == nil {
		c.Spec.Suspend = boolPtr(false)
	}
	if c.Spec.SuccessfulJobsHistoryLimit == nil {
		c.Spec.SuccessfulJobsHistoryLimit = int32Ptr(3)
	}
	if c.Spec.FailedJobsHistoryLimit == nil {
		c.Spec.FailedJobsHistoryLimit = int32Ptr(1)
	}
	jobSpecCommon(&c.Spec.JobTemplate.Spec)
}

// JobSelector generates a Job's selector and the matching pod template
// labels, as upstream's Job create strategy does unless
// spec.manualSelector is true. It needs the Job's UID, so the caller runs it
// at create time after assigning metadata.uid and before validation. Labels
// the user already set are kept; if they conflict with the generated
// selector, validation reports the mismatch.
func JobSelector(j *batchv1.Job) {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return
	}
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	labels := j.Spec.Template.Labels
	for _, k := range []string{legacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := labels[k]; !ok {
			labels[k] = j.Name
		}
	}
	for _, k := range []string{legacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := labels[k]; !ok {
			labels[k] = string(j.UID)
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(j.UID)
	}
}
