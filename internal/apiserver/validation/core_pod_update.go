package validation

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// updatablePodSpecFields is quoted verbatim in the error users get when they
// edit anything else (kubectl users know it by heart).
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// validatePodUpdate: a Pod's spec is fixed once created, except for the
// fields listed above and the removal of scheduling gates (plus, for still
// gated pods, additions to node selection). Everything else changes through
// subresources (binding, ephemeralcontainers, resize) or by recreating.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := validatePodSpecAndMeta(pod)
	specPath := field.NewPath("spec")

	cErrs, stop := validateContainerUpdates(pod.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	errs = append(errs, cErrs...)
	if stop {
		return errs
	}
	cErrs, stop = validateContainerUpdates(pod.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	errs = append(errs, cErrs...)
	if stop {
		return errs
	}

	// activeDeadlineSeconds may be set, or lowered, never raised or removed.
	adsPath := specPath.Child("activeDeadlineSeconds")
	if n := pod.Spec.ActiveDeadlineSeconds; n != nil {
		if *n < 0 || *n > math.MaxInt32 {
			return append(errs, field.Invalid(adsPath, *n, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if o := old.Spec.ActiveDeadlineSeconds; o != nil && *o < *n {
			return append(errs, field.Invalid(adsPath, *n, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(adsPath, pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	errs = append(errs, validateOnlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, validateOnlyDeletedSchedulingGates(pod.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if apiequality.Semantic.DeepEqual(pod.Spec, old.Spec) {
		return errs
	}

	// Copy the allowed changes from the new spec onto the old one's values,
	// then any remaining difference is forbidden.
	munged := *pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if o := old.Spec.TerminationGracePeriodSeconds; o != nil && *o < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = o
	}
	if len(old.Spec.SchedulingGates) > 0 {
		errs = append(errs, mungeGatedPodScheduling(&munged, &old.Spec, specPath)...)
	}

	if !apiequality.Semantic.DeepEqual(munged, old.Spec) {
		diff := cmp.Diff(old.Spec, munged)
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v",
			strings.Join(updatablePodSpecFields, ","), diff)))
	}
	return errs
}

func validateContainerUpdates(newC, oldC []corev1.Container, p *field.Path) (field.ErrorList, bool) {
	if len(newC) != len(oldC) {
		return field.ErrorList{field.Forbidden(p, "pod updates may not add or remove containers")}, true
	}
	var errs field.ErrorList
	for i, c := range newC {
		if c.Image == "" {
			errs = append(errs, field.Required(p.Index(i).Child("image"), ""))
		}
		errs = append(errs, imageWhitespace(c.Image, p.Index(i).Child("image"))...)
	}
	return errs, false
}

// validateOnlyAddedTolerations: existing tolerations may only have their
// tolerationSeconds changed (the eviction controller lowers it).
func validateOnlyAddedTolerations(newT, oldT []corev1.Toleration, p *field.Path) field.ErrorList {
	for _, o := range oldT {
		found := false
		for _, n := range newT {
			c := o
			c.TolerationSeconds = n.TolerationSeconds
			if reflect.DeepEqual(c, n) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(p, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return validateTolerations(newT, p)
}

func validateOnlyDeletedSchedulingGates(newG, oldG []corev1.PodSchedulingGate, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	old := map[string]bool{}
	for _, g := range oldG {
		old[g.Name] = true
	}
	for i, g := range newG {
		if !old[g.Name] {
			errs = append(errs, field.Forbidden(p.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// mungeGatedPodScheduling: while a pod is still gated, schedulers and queue
// controllers may narrow where it runs: add nodeSelector entries and
// matchExpressions to existing node affinity terms.
func mungeGatedPodScheduling(m *corev1.PodSpec, old *corev1.PodSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !apiequality.Semantic.DeepEqual(m.NodeSelector, old.NodeSelector) {
		for k, v := range old.NodeSelector {
			if nv, ok := m.NodeSelector[k]; !ok || nv != v {
				errs = append(errs, field.Invalid(specPath.Child("nodeSelector"), m.NodeSelector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
				break
			}
		}
		m.NodeSelector = old.NodeSelector
	}
	var oldNA, newNA *corev1.NodeAffinity
	if old.Affinity != nil {
		oldNA = old.Affinity.NodeAffinity
	}
	if m.Affinity != nil {
		newNA = m.Affinity.NodeAffinity
	}
	if apiequality.Semantic.DeepEqual(oldNA, newNA) {
		return errs
	}
	naPath := specPath.Child("affinity").Child("nodeAffinity")
	if oldNA != nil && oldNA.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		oldTerms := oldNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		var newTerms []corev1.NodeSelectorTerm
		if newNA != nil && newNA.RequiredDuringSchedulingIgnoredDuringExecution != nil {
			newTerms = newNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		}
		termsPath := naPath.Child("requiredDuringSchedulingIgnoredDuringExecution").Child("nodeSelectorTerms")
		if len(oldTerms) > 0 && len(oldTerms) != len(newTerms) {
			errs = append(errs, field.Invalid(termsPath, newTerms, "no additions/deletions to non-empty NodeSelectorTerms list are allowed"))
		} else {
			for i := range oldTerms {
				if !termOnlyAdds(newTerms[i], oldTerms[i]) {
					errs = append(errs, field.Invalid(termsPath.Index(i), newTerms[i], "only additions are allowed (no mutations or deletions)"))
				}
			}
		}
	}
	switch {
	case m.Affinity == nil && oldNA == nil:
	case m.Affinity == nil:
		m.Affinity = &corev1.Affinity{NodeAffinity: oldNA}
	case old.Affinity == nil && m.Affinity.PodAffinity == nil && m.Affinity.PodAntiAffinity == nil:
		m.Affinity = nil
	default:
		m.Affinity.NodeAffinity = oldNA
	}
	return errs
}

func termOnlyAdds(n, o corev1.NodeSelectorTerm) bool {
	if len(o.MatchExpressions) == 0 && len(o.MatchFields) == 0 && (len(n.MatchExpressions) > 0 || len(n.MatchFields) > 0) {
		return false
	}
	if l := len(o.MatchExpressions); l > 0 && (len(n.MatchExpressions) < l || !apiequality.Semantic.DeepEqual(n.MatchExpressions[:l], o.MatchExpressions)) {
		return false
	}
	if l := len(o.MatchFields); l > 0 && (len(n.MatchFields) < l || !apiequality.Semantic.DeepEqual(n.MatchFields[:l], o.MatchFields)) {
		return false
	}
	return true
}
