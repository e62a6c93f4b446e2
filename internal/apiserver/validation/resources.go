package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource-name classification, following upstream's core helper package.

var standardContainerResources = sets.New(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)

var standardResources = sets.New(
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
	corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
	corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims, corev1.ResourceStorage,
	corev1.ResourceRequestsStorage, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
)

var standardQuotaResources = sets.New(
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsStorage, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
	corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
	corev1.ResourceSecrets, corev1.ResourcePersistentVolumeClaims, corev1.ResourceConfigMaps,
	corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
)

// Counted, not measured, resources must be whole numbers.
var integerResources = sets.New(
	corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
	corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
	corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
)

func isHugePage(n corev1.ResourceName) bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix)
}

func isQuotaHugePage(n corev1.ResourceName) bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix) ||
		strings.HasPrefix(string(n), corev1.ResourceRequestsHugePagesPrefix)
}

// isNative: unprefixed or in the kubernetes.io namespace.
func isNative(n corev1.ResourceName) bool {
	return !strings.Contains(string(n), "/") || strings.Contains(string(n), corev1.ResourceDefaultNamespacePrefix)
}

func isExtended(n corev1.ResourceName) bool {
	if isNative(n) || strings.HasPrefix(string(n), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	// It must still be a valid name once quota prefixes it with "requests.".
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(n))) == 0
}

// isOvercommitAllowed: requests may be below limits only for native,
// non-hugepage resources; extended resources and hugepages are exact.
func isOvercommitAllowed(n corev1.ResourceName) bool {
	return isNative(n) && !isHugePage(n)
}

func isInteger(n corev1.ResourceName) bool { return integerResources.Has(n) || isExtended(n) }

func validateResourceName(n corev1.ResourceName, p *field.Path) field.ErrorList {
	errs := msgs(validation.IsQualifiedName(string(n)), n, p)
	if len(errs) != 0 {
		return errs
	}
	if !strings.Contains(string(n), "/") && !standardResources.Has(n) && !isQuotaHugePage(n) {
		errs = append(errs, field.Invalid(p, n, "must be a standard resource type or fully qualified"))
	}
	return errs
}

func validateContainerResourceName(n corev1.ResourceName, p *field.Path) field.ErrorList {
	errs := validateResourceName(n, p)
	if !strings.Contains(string(n), "/") {
		if !standardContainerResources.Has(n) && !isHugePage(n) {
			return append(errs, field.Invalid(p, n, "must be a standard resource for containers"))
		}
	} else if !isNative(n) && !isExtended(n) {
		return append(errs, field.Invalid(p, n, "doesn't follow extended resource name standard"))
	}
	return errs
}

func validateQuotaResourceName(n corev1.ResourceName, p *field.Path) field.ErrorList {
	errs := validateResourceName(n, p)
	if !strings.Contains(string(n), "/") && !standardQuotaResources.Has(n) && !isQuotaHugePage(n) {
		errs = append(errs, field.Invalid(p, n, "must be a standard resource for quota"))
	}
	return errs
}

func validateQuantity(n corev1.ResourceName, q resource.Quantity, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.Cmp(resource.Quantity{}) < 0 {
		errs = append(errs, field.Invalid(p, q.String(), isNegativeErrorMsg))
	}
	if isInteger(n) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(p, q, isNotIntegerErrorMsg))
	}
	return errs
}

func positiveQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Cmp(resource.Quantity{}) <= 0 {
		return field.ErrorList{field.Invalid(p, q.String(), isNotPositiveErrorMsg)}
	}
	return nil
}

// hugePageDivisible: a hugepage quantity must be a whole number of pages.
func hugePageDivisible(n corev1.ResourceName, q resource.Quantity) bool {
	size, err := resource.ParseQuantity(strings.TrimPrefix(string(n), corev1.ResourceHugePagesPrefix))
	if err != nil || size.Sign() <= 0 || size.MilliValue()%1000 != 0 {
		return false
	}
	return q.Value()%size.Value() == 0
}

// validateResourceRequirements checks names, quantities and that requests do
// not exceed limits (and equal them where overcommit is not allowed).
func validateResourceRequirements(r *corev1.ResourceRequirements, nameFn func(corev1.ResourceName, *field.Path) field.ErrorList, claims map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := p.Child("limits"), p.Child("requests")
	var cpuOrMem, hugePages bool
	for n, q := range r.Limits {
		fp := limPath.Key(string(n))
		errs = append(errs, nameFn(n, fp)...)
		errs = append(errs, validateQuantity(n, q, fp)...)
		if isHugePage(n) {
			hugePages = true
			if !hugePageDivisible(n, q) {
				errs = append(errs, field.Invalid(fp, q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), n)))
			}
		}
		if n == corev1.ResourceCPU || n == corev1.ResourceMemory {
			cpuOrMem = true
		}
	}
	for n, q := range r.Requests {
		fp := reqPath.Key(string(n))
		errs = append(errs, nameFn(n, fp)...)
		errs = append(errs, validateQuantity(n, q, fp)...)
		if lim, ok := r.Limits[n]; ok {
			if q.Cmp(lim) != 0 && !isOvercommitAllowed(n) {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", n, lim.String())))
			} else if q.Cmp(lim) > 0 {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", n, lim.String())))
			}
		} else if !isOvercommitAllowed(n) {
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
		if isHugePage(n) {
			hugePages = true
			if !hugePageDivisible(n, q) {
				errs = append(errs, field.Invalid(fp, q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), n)))
			}
		}
		if n == corev1.ResourceCPU || n == corev1.ResourceMemory {
			cpuOrMem = true
		}
	}
	if hugePages && !cpuOrMem {
		errs = append(errs, field.Forbidden(p, "HugePages require cpu or memory"))
	}
	seen := map[string]bool{}
	for i, c := range r.Claims {
		cp := p.Child("claims").Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(cp, ""))
		case seen[c.Name+"/"+c.Request]:
			errs = append(errs, field.Duplicate(cp, c.Name))
		case !claims[c.Name]:
			e := field.NotFound(cp, c.Name)
			e.Detail = "must be one of the names in pod.spec.resourceClaims"
			errs = append(errs, e)
		}
		seen[c.Name+"/"+c.Request] = true
	}
	return errs
}
