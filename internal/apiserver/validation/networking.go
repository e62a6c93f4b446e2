package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const annotationIngressClass = "kubernetes.io/ingress.class"

func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	p := field.NewPath("spec")
	spec := &np.Spec
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(&spec.PodSelector, opts, p.Child("podSelector"))
	for i, in := range spec.Ingress {
		ip := p.Child("ingress").Index(i)
		for j := range in.Ports {
			errs = append(errs, validateNetworkPolicyPort(&in.Ports[j], ip.Child("ports").Index(j))...)
		}
		for j := range in.From {
			errs = append(errs, validateNetworkPolicyPeer(&in.From[j], ip.Child("from").Index(j))...)
		}
	}
	for i, eg := range spec.Egress {
		ep := p.Child("egress").Index(i)
		for j := range eg.Ports {
			errs = append(errs, validateNetworkPolicyPort(&eg.Ports[j], ep.Child("ports").Index(j))...)
		}
		for j := range eg.To {
			errs = append(errs, validateNetworkPolicyPeer(&eg.To[j], ep.Child("to").Index(j))...)
		}
	}
	tp := p.Child("policyTypes")
	if len(spec.PolicyTypes) > 2 {
		return append(errs, field.Invalid(tp, &spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range spec.PolicyTypes {
		errs = append(errs, oneOf(t, tp.Index(i), networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)...)
	}
	return errs
}

func validateNetworkPolicyPort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Protocol != nil {
		errs = append(errs, oneOf(*port.Protocol, p.Child("protocol"), corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)...)
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == intstr.Int:
		errs = append(errs, msgs(validation.IsValidPortNum(int(port.Port.IntVal)), port.Port.IntVal, p.Child("port"))...)
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, field.Invalid(p.Child("endPort"), port.Port.IntVal, "must be greater than or equal to `port`"))
			}
			errs = append(errs, msgs(validation.IsValidPortNum(int(*port.EndPort)), *port.EndPort, p.Child("endPort"))...)
		}
	default:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		errs = append(errs, msgs(validation.IsValidPortName(port.Port.StrVal), port.Port.StrVal, p.Child("port"))...)
	}
	return errs
}

func validateNetworkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, validateIPBlock(peer.IPBlock, p.Child("ipBlock"))...)
	}
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a peer"))
	} else if n > 1 && peer.IPBlock != nil {
		errs = append(errs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return errs
}

func validateIPBlock(b *networkingv1.IPBlock, p *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "")}
	}
	errs := validation.IsValidCIDRForLegacyField(p.Child("cidr"), b.CIDR, false, nil)
	_, cidr, err := netutils.ParseCIDRSloppy(b.CIDR)
	if err != nil {
		return errs
	}
	for i, ex := range b.Except {
		ep := p.Child("except").Index(i)
		errs = append(errs, validation.IsValidCIDRForLegacyField(ep, ex, false, nil)...)
		_, exNet, err := netutils.ParseCIDRSloppy(ex)
		if err != nil {
			continue
		}
		cl, _ := cidr.Mask.Size()
		el, _ := exNet.Mask.Size()
		if !cidr.Contains(exNet.IP) || cl >= el {
			errs = append(errs, field.Invalid(ep, ex, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}

var (
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

func validateIngress(ing *networkingv1.Ingress, create bool) field.ErrorList {
	p := field.NewPath("spec")
	spec := &ing.Spec
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(spec.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i, r := range spec.Rules {
		rp := p.Child("rules").Index(i)
		if r.Host != "" {
			hp := rp.Child("host")
			if netutils.ParseIPSloppy(r.Host) != nil {
				errs = append(errs, field.Invalid(hp, r.Host, "must be a DNS name, not an IP address"))
			}
			if strings.Contains(r.Host, "*") {
				errs = append(errs, msgs(validation.IsWildcardDNS1123Subdomain(r.Host), r.Host, hp)...)
			} else {
				errs = append(errs, dns1123Subdomain(r.Host, hp)...)
			}
		}
		if http := r.HTTP; http != nil {
			hp := rp.Child("http")
			if len(http.Paths) == 0 {
				errs = append(errs, field.Required(hp.Child("paths"), ""))
			}
			for j := range http.Paths {
				errs = append(errs, validateIngressPath(&http.Paths[j], hp.Child("paths").Index(j))...)
			}
		}
	}
	for i, tls := range spec.TLS {
		tp := p.Child("tls").Index(i)
		for j, h := range tls.Hosts {
			if strings.Contains(h, "*") {
				errs = append(errs, msgs(validation.IsWildcardDNS1123Subdomain(h), h, tp.Child("hosts").Index(j))...)
			} else {
				errs = append(errs, dns1123Subdomain(h, tp.Child("hosts").Index(j))...)
			}
		}
		if tls.SecretName != "" {
			errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, tls.SecretName, tp.Child("secretName"))...)
		}
	}
	if spec.IngressClassName != nil {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, *spec.IngressClassName, p.Child("ingressClassName"))...)
	}
	if create {
		// Upstream's path for this lacks the metadata prefix.
		if v, ok := ing.Annotations[annotationIngressClass]; ok && spec.IngressClassName != nil && v != *spec.IngressClassName {
			errs = append(errs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), v, "must match `ingressClassName` when both are specified"))
		}
	}
	return errs
}

func validateIngressPath(hp *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if hp.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	switch *hp.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), hp.Path, "must be an absolute path"))
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(hp.Path, seq) {
				errs = append(errs, field.Invalid(p.Child("path"), hp.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suf := range invalidPathSuffixes {
			if strings.HasSuffix(hp.Path, suf) {
				errs = append(errs, field.Invalid(p.Child("path"), hp.Path, fmt.Sprintf("cannot end with '%s'", suf)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if hp.Path != "" && !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), hp.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *hp.PathType, []string{string(networkingv1.PathTypeExact),
			string(networkingv1.PathTypeImplementationSpecific), string(networkingv1.PathTypePrefix)}))
	}
	return append(errs, validateIngressBackend(&hp.Backend, p.Child("backend"))...)
}

func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return validateTypedLocalRef(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, p.Child("resource"))
	case b.Service != nil:
		var errs field.ErrorList
		if b.Service.Name == "" {
			errs = append(errs, field.Required(p.Child("service", "name"), ""))
		} else {
			errs = append(errs, name(apimachineryvalidation.NameIsDNS1035Label, b.Service.Name, p.Child("service", "name"))...)
		}
		hasName, hasNumber := b.Service.Port.Name != "", b.Service.Port.Number != 0
		switch {
		case hasName && hasNumber:
			errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
		case hasName:
			errs = append(errs, msgs(validation.IsValidPortName(b.Service.Port.Name), b.Service.Port.Name, p.Child("service", "port", "name"))...)
		case hasNumber:
			errs = append(errs, msgs(validation.IsValidPortNum(int(b.Service.Port.Number)), b.Service.Port.Number, p.Child("service", "port", "number"))...)
		default:
			errs = append(errs, field.Required(p, "port name or number is required"))
		}
		return errs
	}
	return field.ErrorList{field.Invalid(p, "", "resource or service backend is required")}
}

func validateTypedLocalRef(group *string, kind, n string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if group != nil {
		errs = append(errs, dns1123Subdomain(*group, p.Child("apiGroup"))...)
	}
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), "kind is required"))
	} else {
		errs = append(errs, msgs(path.ValidatePathSegmentName(kind, false), kind, p.Child("kind"))...)
	}
	if n == "" {
		errs = append(errs, field.Required(p.Child("name"), "name is required"))
	} else {
		errs = append(errs, msgs(path.ValidatePathSegmentName(n, false), n, p.Child("name"))...)
	}
	return errs
}

func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if len(ic.Spec.Controller) > 250 {
		errs = append(errs, field.TooLong(p.Child("controller"), "", 250))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(p.Child("controller"), ic.Spec.Controller)...)
	if params := ic.Spec.Parameters; params != nil {
		pp := p.Child("parameters")
		errs = append(errs, validateTypedLocalRef(params.APIGroup, params.Kind, params.Name, pp)...)
		if params.Scope == nil {
			return append(errs, field.Required(pp.Child("scope"), ""))
		}
		switch *params.Scope {
		case networkingv1.IngressClassParametersReferenceScopeNamespace:
			if params.Namespace == nil {
				errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			} else {
				errs = append(errs, name(apimachineryvalidation.ValidateNamespaceName, *params.Namespace, pp.Child("namespace"))...)
			}
		case networkingv1.IngressClassParametersReferenceScopeCluster:
			if params.Namespace != nil {
				errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
			}
		default:
			errs = append(errs, field.NotSupported(pp.Child("scope"), *params.Scope, []string{
				networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}))
		}
	}
	return errs
}
