package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const (
	annotationTopologyMode              = "service.kubernetes.io/topology-mode"
	annotationTopologyAwareHints        = "service.kubernetes.io/topology-aware-hints"
	annotationLoadBalancerSourceRanges  = "service.beta.kubernetes.io/load-balancer-source-ranges"
	serviceTrafficDistributionPreferred = "PreferClose"
)

func isHeadless(s *corev1.Service) bool {
	return len(s.Spec.ClusterIPs) == 1 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

func externallyAccessible(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0)
}

func needsHealthCheck(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

func validateService(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := &s.Spec
	specPath := field.NewPath("spec")
	metaPath := field.NewPath("metadata")

	hints, hintsSet := s.Annotations[annotationTopologyAwareHints]
	mode, modeSet := s.Annotations[annotationTopologyMode]
	if hintsSet && modeSet && hints != mode {
		errs = append(errs, field.Invalid(metaPath.Child("annotations").Key(annotationTopologyMode), mode,
			fmt.Sprintf("must match annotations[%s] when both are specified", annotationTopologyAwareHints)))
	}

	// Headless and ExternalName services need no ports: nothing proxies them.
	if len(spec.Ports) == 0 && !isHeadless(s) && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(s) {
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIPs[0],
				fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if len(spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// A trailing dot marks the CNAME as fully qualified.
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			errs = append(errs, dns1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
	}

	names := sets.New[string]()
	portsPath := specPath.Child("ports")
	for i := range spec.Ports {
		errs = append(errs, validateServicePort(&spec.Ports[i], len(spec.Ports) > 1, names, portsPath.Index(i))...)
	}
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	errs = append(errs, requiredOneOf(spec.SessionAffinity, specPath.Child("sessionAffinity"), corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)...)
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		errs = append(errs, validateClientIPAffinity(spec.SessionAffinityConfig, specPath.Child("sessionAffinityConfig"))...)
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	}
	errs = append(errs, validateClusterIPFields(s)...)
	for i, ip := range spec.ExternalIPs {
		ipp := specPath.Child("externalIPs").Index(i)
		if e := validation.IsValidIP(ipp, ip); len(e) != 0 {
			errs = append(errs, e...)
		} else {
			errs = append(errs, validateNonSpecialIP(ip, ipp)...)
		}
	}
	errs = append(errs, requiredOneOf(spec.Type, specPath.Child("type"), corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName,
		corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort)...)

	nodePorts := map[string]bool{}
	ports := map[string]bool{}
	for i, port := range spec.Ports {
		pp := portsPath.Index(i)
		if port.NodePort != 0 {
			if spec.Type == corev1.ServiceTypeClusterIP {
				errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			} else {
				// The configured range is the allocator's to check (--service-node-port-range).
				errs = append(errs, msgs(validation.IsValidPortNum(int(port.NodePort)), port.NodePort, pp.Child("nodePort"))...)
			}
			key := fmt.Sprintf("%s/%d", port.Protocol, port.NodePort)
			if nodePorts[key] {
				errs = append(errs, field.Duplicate(pp.Child("nodePort"), port.NodePort))
			}
			nodePorts[key] = true
		}
		key := fmt.Sprintf("%s/%d", port.Protocol, port.Port)
		if ports[key] {
			errs = append(errs, field.Duplicate(pp, corev1.ServicePort{Protocol: port.Protocol, Port: port.Port}))
		}
		ports[key] = true
	}

	if len(spec.LoadBalancerSourceRanges) > 0 {
		// Upstream's path really is capitalised here.
		rp := specPath.Child("LoadBalancerSourceRanges")
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(rp, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, v := range spec.LoadBalancerSourceRanges {
			errs = append(errs, validation.IsValidCIDR(rp.Index(i), strings.TrimSpace(v))...)
		}
	} else if v, ok := s.Annotations[annotationLoadBalancerSourceRanges]; ok {
		ap := metaPath.Child("annotations").Key(annotationLoadBalancerSourceRanges)
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(ap, "may only be used when `type` is 'LoadBalancer'"))
		}
		if v = strings.TrimSpace(v); v != "" {
			for _, c := range strings.Split(v, ",") {
				errs = append(errs, validation.IsValidCIDR(ap, strings.TrimSpace(c))...)
			}
		}
	}
	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		// Upstream reports this one without the "spec" prefix.
		errs = append(errs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.LoadBalancerClass != nil {
			errs = append(errs, qualifiedName(*spec.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
		}
	} else if spec.LoadBalancerClass != nil {
		errs = append(errs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
	}

	if !externallyAccessible(s) {
		if spec.ExternalTrafficPolicy != "" {
			errs = append(errs, field.Invalid(specPath.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	} else {
		errs = append(errs, requiredOneOf(spec.ExternalTrafficPolicy, specPath.Child("externalTrafficPolicy"),
			corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)...)
	}
	if !needsHealthCheck(s) {
		if spec.HealthCheckNodePort != 0 {
			errs = append(errs, field.Invalid(specPath.Child("healthCheckNodePort"), spec.HealthCheckNodePort,
				"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
	} else if spec.HealthCheckNodePort == 0 {
		errs = append(errs, field.Required(specPath.Child("healthCheckNodePort"), ""))
	} else {
		errs = append(errs, msgs(validation.IsValidPortNum(int(spec.HealthCheckNodePort)), spec.HealthCheckNodePort, specPath.Child("healthCheckNodePort"))...)
	}
	if spec.InternalTrafficPolicy == nil {
		if spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer || spec.Type == corev1.ServiceTypeClusterIP {
			errs = append(errs, field.Required(specPath.Child("internalTrafficPolicy"), ""))
		}
	} else {
		errs = append(errs, oneOf(*spec.InternalTrafficPolicy, specPath.Child("internalTrafficPolicy"),
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)...)
	}
	if td := spec.TrafficDistribution; td != nil {
		errs = append(errs, oneOf(*td, specPath.Child("trafficDistribution"), serviceTrafficDistributionPreferred,
			corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode)...)
	}
	return errs
}

func validateServicePort(sp *corev1.ServicePort, requireName bool, names sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	// With several ports, names tell them apart in Endpoints and DNS SRV.
	if requireName && sp.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if sp.Name != "" {
		errs = append(errs, dns1123Label(sp.Name, p.Child("name"))...)
		if names.Has(sp.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), sp.Name))
		} else {
			names.Insert(sp.Name)
		}
	}
	errs = append(errs, msgs(validation.IsValidPortNum(int(sp.Port)), sp.Port, p.Child("port"))...)
	errs = append(errs, requiredOneOf(sp.Protocol, p.Child("protocol"), supportedPortProtocols...)...)
	errs = append(errs, validatePortNumOrName(sp.TargetPort, p.Child("targetPort"))...)
	if sp.AppProtocol != nil {
		errs = append(errs, qualifiedName(*sp.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

func validateClientIPAffinity(c *corev1.SessionAffinityConfig, p *field.Path) field.ErrorList {
	const when = "when session affinity type is ClientIP"
	switch {
	case c == nil:
		return field.ErrorList{field.Required(p, when)}
	case c.ClientIP == nil:
		return field.ErrorList{field.Required(p.Child("clientIP"), when)}
	case c.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(p.Child("clientIP").Child("timeoutSeconds"), when)}
	}
	if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > 86400 {
		return field.ErrorList{field.Invalid(p.Child("clientIP").Child("timeoutSeconds"), c.ClientIP.TimeoutSeconds, "must be greater than 0 and less than 86400")}
	}
	return nil
}

// validateNonSpecialIP rejects addresses that make no sense as endpoints or
// external IPs (unspecified, loopback, link-local).
func validateNonSpecialIP(addr string, p *field.Path) field.ErrorList {
	ip := netutils.ParseIPSloppy(addr)
	if ip == nil {
		return field.ErrorList{field.Invalid(p, addr, "must be a valid IP address")}
	}
	var errs field.ErrorList
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(p, addr, fmt.Sprintf("may not be unspecified (%v)", addr)))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(p, addr, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(p, addr, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(p, addr, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

// validateClusterIPFields checks clusterIP/clusterIPs/ipFamilies/
// ipFamilyPolicy together (the defaulting package keeps the first two in
// sync, as upstream's strategy does).
func validateClusterIPFields(s *corev1.Service) field.ErrorList {
	spec := &s.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	ipsPath := specPath.Child("clusterIPs")
	famPath := specPath.Child("ipFamilies")
	if spec.ClusterIP != "" {
		if len(spec.ClusterIPs) == 0 {
			errs = append(errs, field.Required(ipsPath, ""))
		} else if spec.ClusterIPs[0] != spec.ClusterIP {
			errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(spec.ClusterIPs) != 0 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	seen := sets.New[corev1.IPFamily]()
	for i, f := range spec.IPFamilies {
		errs = append(errs, oneOf(f, famPath.Index(i), corev1.IPv4Protocol, corev1.IPv6Protocol)...)
		if seen.Has(f) {
			errs = append(errs, field.Duplicate(famPath.Index(i), f))
		}
		seen.Insert(f)
	}
	if spec.IPFamilyPolicy != nil {
		errs = append(errs, oneOf(*spec.IPFamilyPolicy, specPath.Child("ipFamilyPolicy"),
			corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack)...)
	}
	invalid := false
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				invalid = true
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		e := validation.IsValidIP(ipsPath.Index(i), ip)
		invalid = invalid || len(e) != 0
		errs = append(errs, e...)
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	// Bad addresses would make the family checks below misleading.
	if invalid {
		return errs
	}
	if len(spec.ClusterIPs) > 1 {
		if dual, err := netutils.IsDualStackIPStrings(spec.ClusterIPs); err != nil || !dual {
			errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}
	if !isHeadless(s) {
		for i, ip := range spec.ClusterIPs {
			if i >= len(spec.IPFamilies) {
				break
			}
			if spec.IPFamilies[i] == corev1.IPv4Protocol && netutils.IsIPv6String(ip) {
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			}
			if spec.IPFamilies[i] == corev1.IPv6Protocol && !netutils.IsIPv6String(ip) {
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

// validateServiceUpdate: the allocated cluster IPs and families may grow or
// shrink (dual-stack upgrade/downgrade) but the primary never changes,
// except when moving to or from ExternalName. Callers must carry allocated
// values (clusterIP(s), nodePorts, healthCheckNodePort) over from the old
// object when the new one leaves them empty, as upstream's strategy does.
func validateServiceUpdate(s, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	ipsPath := field.NewPath("spec", "clusterIPs")
	famPath := field.NewPath("spec", "ipFamilies")
	policyPath := field.NewPath("spec", "ipFamilyPolicy")
	singleStack := func() bool {
		return s.Spec.IPFamilyPolicy != nil && *s.Spec.IPFamilyPolicy == corev1.IPFamilyPolicySingleStack
	}
	externalName := s.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName
	if !externalName && !(isHeadless(s) && isHeadless(old)) {
		n, o := s.Spec.ClusterIPs, old.Spec.ClusterIPs
		switch {
		case len(o) == len(n):
			for i := range o {
				if o[i] != n[i] {
					errs = append(errs, field.Invalid(ipsPath.Index(i), n, "may not change once set"))
				}
			}
		case len(o) > len(n):
			if len(n) == 0 {
				errs = append(errs, field.Invalid(ipsPath.Index(0), n, "primary clusterIP can not be unset"))
			}
			if len(o) > 0 && len(n) > 0 && n[0] != o[0] {
				errs = append(errs, field.Invalid(ipsPath.Index(0), n, "may not change once set"))
			}
			if len(n) == 1 && !singleStack() {
				errs = append(errs, field.Invalid(policyPath, s.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary clusterIP"))
			}
		default:
			if len(o) > 0 && n[0] != o[0] {
				errs = append(errs, field.Invalid(ipsPath.Index(0), n, "may not change once set"))
			}
		}
	}
	if !externalName && isHeadless(s) == isHeadless(old) && !isHeadless(s) {
		n, o := s.Spec.IPFamilies, old.Spec.IPFamilies
		switch {
		case len(o) == len(n):
			for i := range o {
				if o[i] != n[i] {
					errs = append(errs, field.Invalid(famPath.Index(0), n, "may not change once set"))
				}
			}
		case len(o) > len(n):
			if len(s.Spec.ClusterIPs) == 0 {
				errs = append(errs, field.Invalid(famPath.Index(0), n, "primary ipFamily can not be unset"))
			}
			if len(n) > 0 && n[0] != o[0] {
				errs = append(errs, field.Invalid(famPath.Index(0), s.Spec.ClusterIPs, "may not change once set"))
			}
			if len(n) == 1 && !singleStack() {
				errs = append(errs, field.Invalid(policyPath, s.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary ipFamily"))
			}
		default:
			if len(o) > 0 && len(n) > 0 && n[0] != o[0] {
				errs = append(errs, field.Invalid(famPath.Index(0), s.Spec.ClusterIPs, "may not change once set"))
			}
		}
	}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer && old.Spec.Type == corev1.ServiceTypeLoadBalancer {
		n, o := s.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass
		if (n == nil) != (o == nil) || (n != nil && *n != *o) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "loadBalancerClass"), n, "may not change once set"))
		}
	}
	if needsHealthCheck(old) && needsHealthCheck(s) && s.Spec.HealthCheckNodePort != old.Spec.HealthCheckNodePort {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "healthCheckNodePort"), "field is immutable"))
	}
	return append(errs, validateService(s)...)
}
