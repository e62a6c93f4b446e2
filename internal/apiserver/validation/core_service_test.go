package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func service(mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

func TestValidateService(t *testing.T) {
	cases := []struct {
		name string
		s    *corev1.Service
		want []wantErr
	}{
		{"valid", service(), nil},
		{"ports required", service(func(s *corev1.Service) { s.Spec.Ports = nil }), []wantErr{{req, "spec.ports", ""}}},
		{"headless without ports", service(func(s *corev1.Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = "None" }), nil},
		{"externalName without ports", service(func(s *corev1.Service) {
			s.Spec.Ports = nil
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com."
		}), nil},
		{"externalName required", service(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
			[]wantErr{{req, "spec.externalName", ""}}},
		{"port range", service(func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }),
			[]wantErr{{inv, "spec.ports[0].port", "must be between 1 and 65535, inclusive"}}},
		{"names required with several ports", service(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Port: 443}}
		}), []wantErr{{req, "spec.ports[1].name", ""}}},
		{"duplicate port names", service(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "http", Port: 443}}
		}), []wantErr{{dup, "spec.ports[1].name", ""}}},
		{"duplicate ports", service(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}}
		}), []wantErr{{dup, "spec.ports[1]", ""}}},
		{"port name format", service(func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }), []wantErr{{inv, "spec.ports[0].name", ""}}},
		{"targetPort name", service(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("way-too-long-port-name") }),
			[]wantErr{{inv, "spec.ports[0].targetPort", "must be no more than 15 characters"}}},
		{"type", service(func(s *corev1.Service) { s.Spec.Type = "Magic" }),
			[]wantErr{{unsup, "spec.type", `"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}}},
		{"nodePort on ClusterIP", service(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			[]wantErr{{forb, "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'"}}},
		// The configured range is the allocator's; validation only wants a port number.
		{"nodePort range", service(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 70000
		}), []wantErr{{inv, "spec.ports[0].nodePort", "must be between 1 and 65535, inclusive"}}},
		{"nodePort ok", service(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
		}), nil},
		{"headless NodePort", service(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.ClusterIP = "None" }),
			[]wantErr{{inv, "spec.clusterIPs[0]", "may not be set to 'None' for NodePort services"}}},
		{"bad clusterIP", service(func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.300" }), []wantErr{{inv, "spec.clusterIPs[0]", ""}}},
		{"externalTrafficPolicy on ClusterIP", service(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			[]wantErr{{inv, "spec.externalTrafficPolicy", "may only be set for externally-accessible services"}}},
		{"loopback externalIP", service(func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }),
			[]wantErr{{inv, "spec.externalIPs[0]", "loopback"}}},
		{"sessionAffinity", service(func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }), []wantErr{{unsup, "spec.sessionAffinity", ""}}},
		{"source ranges on ClusterIP", service(func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }),
			[]wantErr{{forb, "spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'"}}},
		{"local LB needs health check port", service(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}), []wantErr{{req, "spec.healthCheckNodePort", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.s, nil, c.want...) })
	}
}

func TestValidateServiceUpdate(t *testing.T) {
	allocated := func(ip string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Spec.ClusterIP = ip; s.Spec.ClusterIPs = []string{ip} }
	}
	check(t, service(allocated("10.96.0.10")), service(allocated("10.96.0.10")))
	check(t, service(allocated("10.96.0.11")), service(allocated("10.96.0.10")),
		wantErr{inv, "spec.clusterIPs[0]", "may not change once set"})
	// Switching to ExternalName drops the cluster IP.
	check(t, service(func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = "example.com"
	}), service(allocated("10.96.0.10")))
}
