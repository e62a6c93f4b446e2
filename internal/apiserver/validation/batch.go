package validation

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	// CronJob time zones must validate the same on every host, including
	// minimal images without /usr/share/zoneinfo.
	_ "time/tzdata"
)

const (
	// Caps keep status.completedIndexes/failedIndexes bounded.
	maxParallelismForIndexedJob   = 100000
	maxFailedIndexesForIndexedJob = 100000
	completionsSoftLimit          = 100000
	parallelismLimitHighCompl     = 10000
	maxFailedIndexesHighCompl     = 10000
	maxPodFailurePolicyRules      = 20
	maxOnExitCodesValues          = 255
	maxOnPodConditionsPatterns    = 20
	maxManagedByLength            = 63
	maxSuccessPolicyRules         = 20
)

func validateJob(j *batchv1.Job) field.ErrorList {
	errs := validateJobSpecWithSelector(&j.Spec, field.NewPath("spec"))
	// Indexed pods are named <job>-<index>, which must stay a DNS label.
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion && j.Spec.Completions != nil && *j.Spec.Completions > 0 {
		host := fmt.Sprintf("%s-%d", j.Name, *j.Spec.Completions-1)
		if len(validation.IsDNS1123Label(host)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata").Child("name"), j.Name, fmt.Sprintf("will not able to create pod with invalid DNS label: %s", host)))
		}
	}
	return errs
}

// validateJobSpecWithSelector: whether generated or manual, the selector
// must select the pods the Job creates.
func validateJobSpecWithSelector(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := validateJobSpec(spec, p)
	if spec.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	if s, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !s.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func nonNegativePtr(v *int32, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return nonNegative(int64(*v), p)
}

func validateJobSpec(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := nonNegativePtr(spec.Parallelism, p.Child("parallelism"))
	errs = append(errs, nonNegativePtr(spec.Completions, p.Child("completions"))...)
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*spec.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	errs = append(errs, nonNegativePtr(spec.BackoffLimit, p.Child("backoffLimit"))...)
	errs = append(errs, nonNegativePtr(spec.TTLSecondsAfterFinished, p.Child("ttlSecondsAfterFinished"))...)
	errs = append(errs, nonNegativePtr(spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	if spec.MaxFailedIndexes != nil {
		errs = append(errs, nonNegative(int64(*spec.MaxFailedIndexes), p.Child("maxFailedIndexes"))...)
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if spec.ManagedBy != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(p.Child("managedBy"), *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(p.Child("managedBy"), "", maxManagedByLength))
		}
	}
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if cm := spec.CompletionMode; cm != nil {
		errs = append(errs, oneOf(*cm, p.Child("completionMode"), batchv1.NonIndexedCompletion, batchv1.IndexedCompletion)...)
	}
	if indexed {
		errs = append(errs, validateIndexedLimits(spec, p)...)
	} else {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if spec.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(spec, p.Child("podFailurePolicy"))...)
	}
	if sp := spec.SuccessPolicy; sp != nil {
		if !indexed {
			errs = append(errs, field.Invalid(p.Child("successPolicy"), *sp, "requires indexed completion mode"))
		} else {
			errs = append(errs, validateSuccessPolicy(spec, p.Child("successPolicy"))...)
		}
	}
	if rp := spec.PodReplacementPolicy; rp != nil {
		// A failure policy must see pods fully terminated to judge them.
		if spec.PodFailurePolicy != nil {
			errs = append(errs, oneOf(*rp, p.Child("podReplacementPolicy"), batchv1.Failed)...)
		} else {
			errs = append(errs, oneOf(*rp, p.Child("podReplacementPolicy"), batchv1.Failed, batchv1.TerminatingOrFailed)...)
		}
	}
	tp := p.Child("template")
	errs = append(errs, validatePodTemplateSpec(&spec.Template, tp)...)
	// Pods of a Job must finish, so they may not restart forever; defaulting
	// turns an unset policy into Always, hence both are rejected.
	rpPath := tp.Child("spec", "restartPolicy")
	switch rp := spec.Template.Spec.RestartPolicy; {
	case rp == corev1.RestartPolicyAlways || rp == "":
		errs = append(errs, field.Required(rpPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(rpPath, rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rpPath, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func validateIndexedLimits(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Completions == nil {
		return append(errs, field.Required(p.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
	}
	if spec.Parallelism != nil && *spec.Parallelism > maxParallelismForIndexedJob {
		errs = append(errs, field.Invalid(p.Child("parallelism"), *spec.Parallelism,
			fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
	}
	if m := spec.MaxFailedIndexes; m != nil {
		if *m > *spec.Completions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *m, "must be less than or equal to completions"))
		}
		if *m > maxFailedIndexesForIndexedJob {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *m, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
		}
	}
	if *spec.Completions > completionsSoftLimit && spec.BackoffLimitPerIndex != nil {
		if spec.MaxFailedIndexes == nil {
			errs = append(errs, field.Required(p.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
		}
		if spec.Parallelism != nil && *spec.Parallelism > parallelismLimitHighCompl {
			errs = append(errs, field.Invalid(p.Child("parallelism"), *spec.Parallelism, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", parallelismLimitHighCompl, completionsSoftLimit)))
		}
		if m := spec.MaxFailedIndexes; m != nil && *m > maxFailedIndexesHighCompl {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *m, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", maxFailedIndexesHighCompl, completionsSoftLimit)))
		}
	}
	return errs
}

var (
	podFailureActions = []batchv1.PodFailurePolicyAction{batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore}
	exitCodeOperators = []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	conditionStatuses = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
)

func validatePodFailurePolicy(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := p.Child("rules")
	rules := spec.PodFailurePolicy.Rules
	if len(rules) > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(rules), maxPodFailurePolicyRules))
	}
	containers := sets.New[string]()
	for _, c := range append(append([]corev1.Container{}, spec.Template.Spec.Containers...), spec.Template.Spec.InitContainers...) {
		containers.Insert(c.Name)
	}
	for i, r := range rules {
		rp := rulesPath.Index(i)
		ap := rp.Child("action")
		switch {
		case r.Action == "":
			errs = append(errs, field.Required(ap, fmt.Sprintf("valid values: %q", podFailureActions)))
		case r.Action == batchv1.PodFailurePolicyActionFailIndex:
			if spec.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(ap, r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		default:
			errs = append(errs, oneOf(r.Action, ap, podFailureActions...)...)
		}
		if oe := r.OnExitCodes; oe != nil {
			ep := rp.Child("onExitCodes")
			if oe.Operator == "" {
				errs = append(errs, field.Required(ep.Child("operator"), fmt.Sprintf("valid values: %q", exitCodeOperators)))
			} else {
				errs = append(errs, oneOf(oe.Operator, ep.Child("operator"), exitCodeOperators...)...)
			}
			if oe.ContainerName != nil && !containers.Has(*oe.ContainerName) {
				errs = append(errs, field.Invalid(ep.Child("containerName"), *oe.ContainerName, "must be one of the container or initContainer names in the pod template"))
			}
			vp := ep.Child("values")
			if len(oe.Values) == 0 {
				errs = append(errs, field.Invalid(vp, oe.Values, "at least one value is required"))
			} else if len(oe.Values) > maxOnExitCodesValues {
				errs = append(errs, field.TooMany(vp, len(oe.Values), maxOnExitCodesValues))
			}
			seen := sets.New[int32]()
			ordered := true
			for k, v := range oe.Values {
				if oe.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
					errs = append(errs, field.Invalid(vp.Index(k), v, "must not be 0 for the In operator"))
				}
				if seen.Has(v) {
					errs = append(errs, field.Duplicate(vp.Index(k), v))
				}
				seen.Insert(v)
				if k > 0 && oe.Values[k-1] > v {
					ordered = false
				}
			}
			if !ordered {
				errs = append(errs, field.Invalid(vp, oe.Values, "must be ordered"))
			}
		}
		if len(r.OnPodConditions) > maxOnPodConditionsPatterns {
			errs = append(errs, field.TooMany(rp.Child("onPodConditions"), len(r.OnPodConditions), maxOnPodConditionsPatterns))
		}
		for k, pat := range r.OnPodConditions {
			pp := rp.Child("onPodConditions").Index(k)
			errs = append(errs, qualifiedName(string(pat.Type), pp.Child("type"))...)
			if pat.Status == "" {
				errs = append(errs, field.Required(pp.Child("status"), fmt.Sprintf("valid values: %q", conditionStatuses)))
			} else {
				errs = append(errs, oneOf(pat.Status, pp.Child("status"), conditionStatuses...)...)
			}
		}
		if r.OnExitCodes != nil && len(r.OnPodConditions) > 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		}
		if r.OnExitCodes == nil && len(r.OnPodConditions) == 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func validateSuccessPolicy(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := spec.SuccessPolicy.Rules
	rp := p.Child("rules")
	if len(rules) == 0 {
		errs = append(errs, field.Required(rp, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rp, len(rules), maxSuccessPolicyRules))
	}
	for i, r := range rules {
		ip := rp.Index(i)
		if r.SucceededCount == nil && r.SucceededIndexes == nil {
			errs = append(errs, field.Required(ip, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		if r.SucceededCount != nil {
			cp := ip.Child("succeededCount")
			errs = append(errs, nonNegative(int64(*r.SucceededCount), cp)...)
			if spec.Completions != nil && *r.SucceededCount > *spec.Completions {
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", *spec.Completions)))
			}
		}
	}
	return errs
}

// validateJobUpdate: most of a Job is fixed once it runs. The template may
// change only in its scheduling directives, and only while the Job is
// suspended and has never started (so queue controllers can place it);
// indexed Jobs may scale completions together with parallelism.
func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateJobSpecWithSelector(&j.Spec, p)
	errs = append(errs, validateCompletionsUpdate(&j.Spec, &old.Spec, p.Child("completions"))...)
	errs = append(errs, immutable(j.Spec.Selector, old.Spec.Selector, p.Child("selector"))...)
	oldT := old.Spec.Template.DeepCopy()
	if j.Spec.Suspend != nil && *j.Spec.Suspend && old.Status.StartTime == nil {
		n := &j.Spec.Template
		switch {
		case n.Spec.Affinity == nil && oldT.Spec.Affinity != nil:
			oldT.Spec.Affinity.NodeAffinity = nil
			if *oldT.Spec.Affinity == (corev1.Affinity{}) {
				oldT.Spec.Affinity = nil
			}
		case n.Spec.Affinity != nil && oldT.Spec.Affinity == nil:
			oldT.Spec.Affinity = &corev1.Affinity{NodeAffinity: n.Spec.Affinity.NodeAffinity}
		case n.Spec.Affinity != nil && oldT.Spec.Affinity != nil:
			oldT.Spec.Affinity.NodeAffinity = n.Spec.Affinity.NodeAffinity
		}
		oldT.Spec.NodeSelector = n.Spec.NodeSelector
		oldT.Spec.Tolerations = n.Spec.Tolerations
		oldT.Annotations = n.Annotations
		oldT.Labels = n.Labels
		oldT.Spec.SchedulingGates = n.Spec.SchedulingGates
	}
	errs = append(errs, immutable(&j.Spec.Template, oldT, p.Child("template"))...)
	errs = append(errs, immutable(j.Spec.CompletionMode, old.Spec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, immutable(j.Spec.PodFailurePolicy, old.Spec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, immutable(j.Spec.BackoffLimitPerIndex, old.Spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, immutable(j.Spec.ManagedBy, old.Spec.ManagedBy, p.Child("managedBy"))...)
	errs = append(errs, immutable(j.Spec.SuccessPolicy, old.Spec.SuccessPolicy, p.Child("successPolicy"))...)
	return errs
}

func validateCompletionsUpdate(spec, old *batchv1.JobSpec, p *field.Path) field.ErrorList {
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if !indexed {
		return immutable(spec.Completions, old.Completions, p)
	}
	if semanticEqual(spec.Completions, old.Completions) || spec.Completions == nil {
		return nil
	}
	if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		return field.ErrorList{field.Invalid(p, spec.Completions, fmt.Sprintf("can only be modified in tandem with %s", p.Root().Child("parallelism").String()))}
	}
	return nil
}

func validateCronJob(c *batchv1.CronJob) field.ErrorList {
	return validateCronJobSpec(&c.Spec, nil, field.NewPath("spec"))
}

func validateCronJobSpec(spec, old *batchv1.CronJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Schedule == "" {
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	} else {
		// A TZ prefix already stored is tolerated; new ones must use timeZone.
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		errs = append(errs, validateSchedule(spec.Schedule, allowTZ, spec.TimeZone, p.Child("schedule"))...)
	}
	errs = append(errs, nonNegativePtr64(spec.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	if old == nil || !equalStringPtr(old.TimeZone, spec.TimeZone) {
		errs = append(errs, validateTimeZone(spec.TimeZone, p.Child("timeZone"))...)
	}
	errs = append(errs, requiredOneOf(spec.ConcurrencyPolicy, p.Child("concurrencyPolicy"),
		batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent)...)
	jp := p.Child("jobTemplate")
	errs = append(errs, validateJobSpec(&spec.JobTemplate.Spec, jp.Child("spec"))...)
	// The CronJob controller generates each Job's selector.
	if spec.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jp.Child("spec", "selector"), spec.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ms := spec.JobTemplate.Spec.ManualSelector; ms != nil && *ms {
		errs = append(errs, field.NotSupported(jp.Child("spec", "manualSelector"), ms, []string{"nil", "false"}))
	}
	errs = append(errs, nonNegativePtr(spec.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, nonNegativePtr(spec.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)
	return errs
}

func nonNegativePtr64(v *int64, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return nonNegative(*v, p)
}

func equalStringPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func validateSchedule(schedule string, allowTZ bool, tz *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := parseCronSchedule(schedule); err != nil {
		errs = append(errs, field.Invalid(p, schedule, err.Error()))
	}
	switch {
	case allowTZ && strings.Contains(schedule, "TZ") && tz != nil:
		errs = append(errs, field.Invalid(p, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	case !allowTZ && strings.Contains(schedule, "TZ"):
		errs = append(errs, field.Invalid(p, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return errs
}

// IANA names: ASCII letters, '.', '-', '_' (digits and '+' tolerated for
// legacy names), components of at most 14 characters.
var validTimeZoneCharacters = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return field.ErrorList{field.Invalid(p, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var errs field.ErrorList
	// "Local" would mean the apiserver's zone, which differs per host.
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, tz, err.Error()))
	}
	return errs
}

func validateCronJobUpdate(c, old *batchv1.CronJob) field.ErrorList {
	return validateCronJobSpec(&c.Spec, &old.Spec, field.NewPath("spec"))
}
