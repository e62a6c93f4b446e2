package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

func validateNode(n *corev1.Node) field.ErrorList {
	// Upstream reports taints under metadata; kept for fidelity.
	errs := validateNodeTaints(n.Spec.Taints, field.NewPath("metadata").Child("taints"))
	errs = append(errs, validateNodeResources(n)...)
	if len(n.Spec.PodCIDRs) > 0 {
		p := field.NewPath("spec", "podCIDRs")
		for i, c := range n.Spec.PodCIDRs {
			errs = append(errs, validation.IsValidCIDR(p.Index(i), c)...)
		}
		if len(n.Spec.PodCIDRs) > 1 {
			if dual, err := netutils.IsDualStackCIDRStrings(n.Spec.PodCIDRs); err != nil || !dual || len(n.Spec.PodCIDRs) > 2 {
				errs = append(errs, field.Invalid(p, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
			}
			seen := sets.New[string]()
			for i, c := range n.Spec.PodCIDRs {
				if seen.Has(c) {
					errs = append(errs, field.Duplicate(p.Index(i), c))
				}
				seen.Insert(c)
			}
		}
	}
	return errs
}

func validateNodeResources(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	for k, v := range n.Status.Capacity {
		errs = append(errs, validateQuantity(k, v, field.NewPath("status", "capacity", string(k)))...)
	}
	for k, v := range n.Status.Allocatable {
		errs = append(errs, validateQuantity(k, v, field.NewPath("status", "allocatable", string(k)))...)
	}
	return errs
}

func validateNodeTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	unique := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		ip := p.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, ip.Child("key"))...)
		if m := validation.IsValidLabelValue(t.Value); len(m) != 0 {
			errs = append(errs, field.Invalid(ip.Child("value"), t.Value, strings.Join(m, ";")))
		}
		errs = append(errs, validateTaintEffect(t.Effect, ip.Child("effect"))...)
		if unique[t.Effect].Has(t.Key) {
			e := field.Duplicate(ip, t)
			e.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, e)
			continue
		}
		if unique[t.Effect] == nil {
			unique[t.Effect] = sets.New[string]()
		}
		unique[t.Effect].Insert(t.Key)
	}
	return errs
}

// validateNodeUpdate: podCIDRs and providerID may be filled in once (by the
// node IPAM controller and the cloud provider) but not changed afterwards.
func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := validateNodeTaints(n.Spec.Taints, field.NewPath("metadata").Child("taints"))
	errs = append(errs, validateNodeResources(n)...)
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	if len(old.Spec.PodCIDRs) > 0 {
		changed := len(old.Spec.PodCIDRs) != len(n.Spec.PodCIDRs)
		for i := 0; !changed && i < len(old.Spec.PodCIDRs); i++ {
			changed = old.Spec.PodCIDRs[i] != n.Spec.PodCIDRs[i]
		}
		if changed {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("subsets")
	for i := range e.Subsets {
		ss := &e.Subsets[i]
		ip := p.Index(i)
		// Ports may be empty (headless services) but addresses may not.
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(ip, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], ip.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], ip.Child("notReadyAddresses").Index(j))...)
		}
		for j, port := range ss.Ports {
			pp := ip.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dns1123Label(port.Name, pp.Child("name"))...)
			}
			errs = append(errs, msgs(validation.IsValidPortNum(int(port.Port)), port.Port, pp.Child("port"))...)
			errs = append(errs, requiredOneOf(port.Protocol, pp.Child("protocol"), supportedPortProtocols...)...)
			if port.AppProtocol != nil {
				errs = append(errs, qualifiedName(*port.AppProtocol, pp.Child("appProtocol"))...)
			}
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIP(p.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, dns1123Label(a.Hostname, p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, *a.NodeName, p.Child("nodeName"))...)
	}
	return append(errs, validateNonSpecialIP(a.IP, p.Child("ip"))...)
}

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	p := field.NewPath("spec")
	spec := &rc.Spec
	errs := nonNegative(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))
	if labels.Set(spec.Selector).AsSelector().Empty() {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	}
	if spec.Replicas != nil {
		errs = append(errs, nonNegative(int64(*spec.Replicas), p.Child("replicas"))...)
	}
	tp := p.Child("template")
	if spec.Template == nil {
		return append(errs, field.Required(tp, ""))
	}
	sel := labels.Set(spec.Selector).AsSelector()
	if !sel.Empty() && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validatePodTemplateSpec(spec.Template, tp)...)
	errs = append(errs, controllerTemplateRules(spec.Template, tp, "ReplicationController")...)
	return errs
}

// controllerTemplateRules: pods of a replicated controller must run forever,
// so they must restart and must not have a deadline.
func controllerTemplateRules(t *corev1.PodTemplateSpec, tp *field.Path, kind string) field.ErrorList {
	var errs field.ErrorList
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return errs
}
