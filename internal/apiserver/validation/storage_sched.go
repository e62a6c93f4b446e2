package validation

import (
	"fmt"
	"reflect"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	maxProvisionerParameterSize = 256 * (1 << 10)
	maxProvisionerParameterLen  = 512
)

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	pp := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(pp, sc.Provisioner))
	} else {
		errs = append(errs, qualifiedName(strings.ToLower(sc.Provisioner), pp)...)
	}
	params := field.NewPath("parameters")
	if len(sc.Parameters) > maxProvisionerParameterLen {
		errs = append(errs, field.TooLong(params, "Provisioner Parameters exceeded max allowed", maxProvisionerParameterLen))
	} else {
		total := 0
		for k, v := range sc.Parameters {
			if k == "" {
				errs = append(errs, field.Invalid(params, k, "field can not be empty."))
			}
			total += len(k) + len(v)
		}
		if total > maxProvisionerParameterSize {
			errs = append(errs, field.TooLong(params, "", maxProvisionerParameterSize))
		}
	}
	// Recycle is deprecated and not offered for dynamic provisioning.
	if rp := sc.ReclaimPolicy; rp != nil && *rp != "" {
		errs = append(errs, oneOf(*rp, field.NewPath("reclaimPolicy"), corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain)...)
	}
	mp := field.NewPath("volumeBindingMode")
	if sc.VolumeBindingMode == nil {
		errs = append(errs, field.Required(mp, ""))
	} else {
		errs = append(errs, oneOf(*sc.VolumeBindingMode, mp, storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer)...)
	}
	tp := field.NewPath("allowedTopologies")
	for i, term := range sc.AllowedTopologies {
		ip := tp.Index(i)
		keys := map[string]bool{}
		for j, req := range term.MatchLabelExpressions {
			rp := ip.Child("matchLabelExpressions").Index(j)
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(rp.Child("values"), ""))
			}
			if keys[req.Key] {
				errs = append(errs, field.Duplicate(rp.Child("key"), req.Key))
			}
			keys[req.Key] = true
		}
	}
	return errs
}

// validateStorageClassUpdate: existing volumes were provisioned with these
// settings, so changing them would make the class lie about its volumes.
func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	errs := validateStorageClass(sc)
	if !reflect.DeepEqual(old.Parameters, sc.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !equalReclaim(sc.ReclaimPolicy, old.ReclaimPolicy) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	return append(errs, immutable(sc.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
}

func equalReclaim(a, b *corev1.PersistentVolumeReclaimPolicy) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// Priority classes named "system-" are reserved for these two.
var systemPriorityClasses = map[string]int32{
	"system-node-critical":    2000001000,
	"system-cluster-critical": 2000000000,
}

const highestUserDefinablePriority = 1000000000

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, "system-") {
		var err error
		v, known := systemPriorityClasses[pc.Name]
		switch {
		case !known:
			err = fmt.Errorf("%v is not a known system priority class", pc.Name)
		case v != pc.Value:
			err = fmt.Errorf("value of %v PriorityClass must be %v", pc.Name, v)
		case pc.GlobalDefault:
			err = fmt.Errorf("globalDefault of %v PriorityClass must be %v", pc.Name, false)
		}
		if err != nil {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"), "priority class names with 'system-' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > highestUserDefinablePriority {
		// Higher values are kept for system-critical pods.
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserDefinablePriority)))
	}
	if pc.PreemptionPolicy != nil {
		errs = append(errs, requiredOneOf(*pc.PreemptionPolicy, field.NewPath("preemptionPolicy"), corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	return errs
}

// validatePriorityClassUpdate: pods carry a copy of the value, so changing
// it would make them disagree with their class.
func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	return append(errs, immutable(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(p.Child("leaseDurationSeconds"), d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(p.Child("leaseTransitions"), t, "must be greater than or equal to 0"))
	}
	if s := l.Spec.Strategy; s != nil {
		sp := p.Child("strategy").Child("strategy")
		if !strings.Contains(string(*s), "/") {
			errs = append(errs, oneOf(*s, sp, coordinationv1.OldestEmulationVersion)...)
		} else {
			errs = append(errs, msgs(validation.IsQualifiedName(string(*s)), *s, sp)...)
		}
	}
	if ph := l.Spec.PreferredHolder; ph != nil && *ph != "" && (l.Spec.Strategy == nil || *l.Spec.Strategy == "") {
		errs = append(errs, field.Forbidden(p.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}
