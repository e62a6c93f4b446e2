package validation

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateWorkloadSelector: apps/v1 requires a non-empty selector that the
// template's labels satisfy; otherwise the controller would create pods it
// cannot see and keep creating them.
func validateWorkloadSelector(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, p *field.Path, kind string) field.ErrorList {
	var errs field.ErrorList
	if sel == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(p.Child("selector"), sel, "empty selector is invalid for "+kind))
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(p.Child("selector"), sel, "invalid label selector"))
	}
	if !s.Empty() && !s.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func replicas(r *int32, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	return nonNegative(int64(*r), p)
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	p := field.NewPath("spec")
	s := &d.Spec
	errs := replicas(s.Replicas, p.Child("replicas"))
	// Upstream uses the ReplicaSet wording ("for deployment") for both.
	errs = append(errs, validateWorkloadSelector(s.Selector, &s.Template, p, "deployment")...)
	errs = append(errs, validatePodTemplateSpec(&s.Template, p.Child("template"))...)
	errs = append(errs, controllerTemplateRules(&s.Template, p.Child("template"), "ReplicaSet")...)
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, p.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*s.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	if pds := s.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, nonNegative(int64(*pds), p.Child("progressDeadlineSeconds"))...)
		// Otherwise a rollout could time out before any pod counts as ready.
		if *pds <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), s.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		ru := s.RollingUpdate
		rp := p.Child("rollingUpdate")
		mu, ms := derefIntOrString(ru.MaxUnavailable), derefIntOrString(ru.MaxSurge)
		errs := validatePositiveIntOrPercent(mu, rp.Child("maxUnavailable"))
		errs = append(errs, validatePositiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		// Neither taking pods down nor adding any would never progress.
		if intOrPercentValue(mu) == 0 && intOrPercentValue(ms) == 0 {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), mu, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(p, s, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

func derefIntOrString(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

func validatePositiveIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		return msgs(validation.IsValidPercent(v.StrVal), v, p)
	case intstr.Int:
		return nonNegative(int64(v.IntValue()), p)
	}
	return field.ErrorList{field.Invalid(p, v, "must be an integer or percentage (e.g '5%%')")}
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	p := field.NewPath("spec")
	s := &rs.Spec
	errs := replicas(s.Replicas, p.Child("replicas"))
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateWorkloadSelector(s.Selector, &s.Template, p, "deployment")...)
	errs = append(errs, validatePodTemplateSpec(&s.Template, p.Child("template"))...)
	return append(errs, controllerTemplateRules(&s.Template, p.Child("template"), "ReplicaSet")...)
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	p := field.NewPath("spec")
	s := &ds.Spec
	errs := validateWorkloadSelector(s.Selector, &s.Template, p, "daemonset")
	errs = append(errs, validatePodTemplateSpec(&s.Template, p.Child("template"))...)
	errs = append(errs, controllerTemplateRules(&s.Template, p.Child("template"), "DaemonSet")...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	up := p.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := s.UpdateStrategy.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(up.Child("rollingUpdate"), ""))
			break
		}
		rp := up.Child("rollingUpdate")
		mu, ms := derefIntOrString(ru.MaxUnavailable), derefIntOrString(ru.MaxSurge)
		errs = append(errs, validatePositiveIntOrPercent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, validatePositiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ms, rp.Child("maxSurge"))...)
		// One pod per node: either surge onto the node or take it down first.
		hasU, hasS := intOrPercentValue(mu) != 0, intOrPercentValue(ms) != 0
		switch {
		case hasU && hasS:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), ru.MaxSurge, "may not be set when maxUnavailable is non-zero"))
		case !hasU && !hasS:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(up, s.UpdateStrategy, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*s.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	return errs
}

// validateStatefulSet: upstream checks only the template's labels and
// annotations (not the pod spec), because volumeClaimTemplates add volumes
// the template does not declare.
func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	p := field.NewPath("spec")
	s := &ss.Spec
	var errs field.ErrorList
	switch s.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(p.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p.Child("podManagementPolicy"), s.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	up := p.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case "":
		errs = append(errs, field.Required(up, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(up.Child("rollingUpdate"), s.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			rp := up.Child("rollingUpdate")
			if ru.Partition != nil {
				errs = append(errs, nonNegative(int64(*ru.Partition), rp.Child("partition"))...)
			}
			if ru.MaxUnavailable != nil {
				mp := rp.Child("maxUnavailable")
				errs = append(errs, validatePositiveIntOrPercent(*ru.MaxUnavailable, mp)...)
				if intOrPercentValue(*ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(mp, *ru.MaxUnavailable, "cannot be 0"))
				}
				errs = append(errs, notMoreThan100Percent(*ru.MaxUnavailable, mp)...)
			}
		}
	default:
		errs = append(errs, field.Invalid(up, s.UpdateStrategy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if rp := s.PersistentVolumeClaimRetentionPolicy; rp != nil {
		pp := p.Child("persistentVolumeClaimRetentionPolicy")
		valid := []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}
		for _, f := range []struct {
			name string
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", rp.WhenDeleted}, {"whenScaled", rp.WhenScaled}} {
			if f.v != appsv1.RetainPersistentVolumeClaimRetentionPolicyType && f.v != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				errs = append(errs, field.NotSupported(pp.Child(f.name), f.v, valid))
			}
		}
	}
	errs = append(errs, replicas(s.Replicas, p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	if s.Ordinals != nil {
		// Upstream's path has the dot inside one element.
		errs = append(errs, nonNegative(int64(s.Ordinals.Start), p.Child("ordinals.start"))...)
	}
	errs = append(errs, validateWorkloadSelector(s.Selector, &s.Template, p, "statefulset")...)
	tp := p.Child("template")
	errs = append(errs, metav1validation.ValidateLabels(s.Template.Labels, tp.Child("labels"))...)
	errs = append(errs, validateTemplateAnnotations(s.Template.Annotations, tp.Child("annotations"))...)
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), s.Template.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if s.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported"))
	}
	return errs
}

// Update rules. apps/v1 made selectors immutable: changing one would orphan
// the existing pods.

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := validateDeployment(d)
	return append(errs, immutable(d.Spec.Selector, old.Spec.Selector, field.NewPath("spec").Child("selector"))...)
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := validateReplicaSet(rs)
	return append(errs, immutable(rs.Spec.Selector, old.Spec.Selector, field.NewPath("spec").Child("selector"))...)
}

func validateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	errs := validateDaemonSet(ds)
	return append(errs, immutable(ds.Spec.Selector, old.Spec.Selector, field.NewPath("spec").Child("selector"))...)
}

func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	errs := validateStatefulSet(ss)
	c := ss.DeepCopy()
	c.Spec.Replicas = old.Spec.Replicas
	c.Spec.Template = old.Spec.Template
	c.Spec.UpdateStrategy = old.Spec.UpdateStrategy
	c.Spec.MinReadySeconds = old.Spec.MinReadySeconds
	c.Spec.Ordinals = old.Spec.Ordinals
	c.Spec.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !semanticEqual(c.Spec, old.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}
