package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func ingress(paths ...networkingv1.HTTPIngressPath) *networkingv1.Ingress {
	return &networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
		Host:             "shop.example.com",
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
	}}}}
}

func ingressPath(path string, pt *networkingv1.PathType, backend networkingv1.IngressBackend) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: path, PathType: pt, Backend: backend}
}

func svcBackend(name string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: port}}}
}

func TestValidateIngress(t *testing.T) {
	prefix := networkingv1.PathTypePrefix
	odd := networkingv1.PathType("Regex")
	cases := []struct {
		name string
		ing  *networkingv1.Ingress
		want []wantErr
	}{
		{"valid", ingress(ingressPath("/", &prefix, svcBackend("web", 80))), nil},
		{"nothing", &networkingv1.Ingress{}, []wantErr{{inv, "spec", "either `defaultBackend` or `rules` must be specified"}}},
		{"pathType required", ingress(ingressPath("/", nil, svcBackend("web", 80))),
			[]wantErr{{req, "spec.rules[0].http.paths[0].pathType", "pathType must be specified"}}},
		{"pathType value", ingress(ingressPath("/", &odd, svcBackend("web", 80))),
			[]wantErr{{unsup, "spec.rules[0].http.paths[0].pathType", ""}}},
		{"relative path", ingress(ingressPath("api", &prefix, svcBackend("web", 80))),
			[]wantErr{{inv, "spec.rules[0].http.paths[0].path", "must be an absolute path"}}},
		{"no port", ingress(ingressPath("/", &prefix, svcBackend("web", 0))),
			[]wantErr{{req, "spec.rules[0].http.paths[0].backend", "port name or number is required"}}},
		{"service name", ingress(ingressPath("/", &prefix, svcBackend("Web", 80))),
			[]wantErr{{inv, "spec.rules[0].http.paths[0].backend.service.name", ""}}},
		{"no backend", ingress(ingressPath("/", &prefix, networkingv1.IngressBackend{})),
			[]wantErr{{inv, "spec.rules[0].http.paths[0].backend", "resource or service backend is required"}}},
		{"ip host", func() *networkingv1.Ingress {
			i := ingress(ingressPath("/", &prefix, svcBackend("web", 80)))
			i.Spec.Rules[0].Host = "10.0.0.1"
			return i
		}(), []wantErr{{inv, "spec.rules[0].host", "must be a DNS name, not an IP address"}}},
		{"wildcard host", func() *networkingv1.Ingress {
			i := ingress(ingressPath("/", &prefix, svcBackend("web", 80)))
			i.Spec.Rules[0].Host = "*.example.com"
			return i
		}(), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.ing, nil, c.want...) })
	}
}

func TestValidateNetworkPolicy(t *testing.T) {
	np := func(rule networkingv1.NetworkPolicyIngressRule) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{rule}}}
	}
	port := intstr.FromInt32(80)
	named := intstr.FromString("http")
	end := int32(70)
	check(t, np(networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
		From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}), nil)
	check(t, np(networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{}}}), nil,
		wantErr{req, "spec.ingress[0].from[0]", "must specify a peer"})
	check(t, np(networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: &port, EndPort: &end}}}), nil,
		wantErr{inv, "spec.ingress[0].ports[0].endPort", "must be greater than or equal to `port`"})
	check(t, np(networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: &named, EndPort: &end}}}), nil,
		wantErr{inv, "spec.ingress[0].ports[0].endPort", "may not be specified when `port` is non-numeric"})
	check(t, np(networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{
		CIDR: "10.0.0.0/16", Except: []string{"192.168.0.0/24"}}}}}), nil,
		wantErr{inv, "spec.ingress[0].from[0].ipBlock.except[0]", "must be a strict subset of `cidr`"})
	check(t, np(networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16"},
		PodSelector: &metav1.LabelSelector{}}}}), nil, wantErr{forb, "spec.ingress[0].from[0]", "may not specify both ipBlock and another peer"})
	types := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Sideways"}}}
	check(t, types, nil, wantErr{unsup, "spec.policyTypes[0]", ""})
}

func TestValidateEndpointSlice(t *testing.T) {
	slice := func(t discoveryv1.AddressType, addrs ...string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{AddressType: t, Endpoints: []discoveryv1.Endpoint{{Addresses: addrs}}, Ports: []discoveryv1.EndpointPort{{}}}
	}
	check(t, slice(discoveryv1.AddressTypeIPv4, "10.1.2.3"), nil)
	check(t, slice(discoveryv1.AddressTypeIPv4, "fd00::1"), nil, wantErr{inv, "endpoints[0].addresses[0]", "IPv4"})
	check(t, slice(discoveryv1.AddressTypeIPv4), nil, wantErr{req, "endpoints[0].addresses", "must contain at least 1 address"})
	check(t, slice("Carrier"), nil, wantErr{unsup, "addressType", ""})
	check(t, slice(discoveryv1.AddressTypeIPv6, "fd00::1"), slice(discoveryv1.AddressTypeIPv4, "10.1.2.3"),
		wantErr{inv, "addressType", "field is immutable"})
	ports := slice(discoveryv1.AddressTypeFQDN, "db.example.com")
	p := corev1.Protocol("ICMP")
	ports.Ports[0].Protocol = &p
	check(t, ports, nil, wantErr{unsup, "ports[0].protocol", ""})
}
