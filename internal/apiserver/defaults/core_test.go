package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func svc(typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: typ, Ports: ports, Selector: map[string]string{"app": "a"}},
	}
}

func TestServiceDefaults(t *testing.T) {
	cases := []struct {
		name  string
		in    *corev1.Service
		check func(t *testing.T, s *corev1.Service)
	}{
		{"clusterIP basics", svc("", corev1.ServicePort{Port: 80}), func(t *testing.T, s *corev1.Service) {
			if s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.SessionAffinity != corev1.ServiceAffinityNone {
				t.Errorf("type/sessionAffinity = %s/%s", s.Spec.Type, s.Spec.SessionAffinity)
			}
			p := s.Spec.Ports[0]
			if p.Protocol != corev1.ProtocolTCP || p.TargetPort != intstr.FromInt32(80) {
				t.Errorf("port = %+v", p)
			}
			if *s.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster {
				t.Errorf("internalTrafficPolicy = %v", *s.Spec.InternalTrafficPolicy)
			}
			if s.Spec.ExternalTrafficPolicy != "" || s.Spec.AllocateLoadBalancerNodePorts != nil {
				t.Errorf("ClusterIP got external fields")
			}
			if *s.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack || len(s.Spec.IPFamilies) != 1 {
				t.Errorf("ip family fields = %v %v", *s.Spec.IPFamilyPolicy, s.Spec.IPFamilies)
			}
		}},
		{"named targetPort kept", svc("", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}), func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].TargetPort != intstr.FromString("http") {
				t.Errorf("targetPort = %v", s.Spec.Ports[0].TargetPort)
			}
		}},
		{"nodePort", svc(corev1.ServiceTypeNodePort, corev1.ServicePort{Port: 80}), func(t *testing.T, s *corev1.Service) {
			if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
				t.Errorf("externalTrafficPolicy = %q", s.Spec.ExternalTrafficPolicy)
			}
		}},
		{"loadBalancer", svc(corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Port: 80}), func(t *testing.T, s *corev1.Service) {
			if s.Spec.AllocateLoadBalancerNodePorts == nil || !*s.Spec.AllocateLoadBalancerNodePorts {
				t.Errorf("allocateLoadBalancerNodePorts not true")
			}
			if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
				t.Errorf("externalTrafficPolicy = %q", s.Spec.ExternalTrafficPolicy)
			}
		}},
		{"clientIP affinity", func() *corev1.Service {
			s := svc("", corev1.ServicePort{Port: 80})
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			return s
		}(), func(t *testing.T, s *corev1.Service) {
			if *s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 {
				t.Errorf("timeout not defaulted")
			}
		}},
		{"headless mirrors clusterIPs", func() *corev1.Service {
			s := svc("", corev1.ServicePort{Port: 80})
			s.Spec.ClusterIP = corev1.ClusterIPNone
			s.Spec.Selector = nil
			return s
		}(), func(t *testing.T, s *corev1.Service) {
			if len(s.Spec.ClusterIPs) != 1 || s.Spec.ClusterIPs[0] != "None" {
				t.Errorf("clusterIPs = %v", s.Spec.ClusterIPs)
			}
			if *s.Spec.IPFamilyPolicy != corev1.IPFamilyPolicyRequireDualStack {
				t.Errorf("selectorless headless policy = %v", *s.Spec.IPFamilyPolicy)
			}
		}},
		{"externalName untouched", svc(corev1.ServiceTypeExternalName), func(t *testing.T, s *corev1.Service) {
			if s.Spec.InternalTrafficPolicy != nil || s.Spec.IPFamilyPolicy != nil || s.Spec.IPFamilies != nil {
				t.Errorf("ExternalName got IP fields")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			Default(c.in)
			c.check(t, c.in)
		})
	}
}

func TestNamespaceDefaults(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	Default(ns)
	if ns.Labels[corev1.LabelMetadataName] != "team-a" {
		t.Errorf("name label = %v", ns.Labels)
	}
	if len(ns.Spec.Finalizers) != 0 {
		t.Errorf("finalizers = %v: the create strategy adds them, not defaulting (so /finalize can empty them)", ns.Spec.Finalizers)
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("phase = %q", ns.Status.Phase)
	}
}

func TestSimpleCoreDefaults(t *testing.T) {
	sec := &corev1.Secret{}
	Default(sec)
	if sec.Type != corev1.SecretTypeOpaque {
		t.Errorf("secret type = %q", sec.Type)
	}

	pvc := &corev1.PersistentVolumeClaim{}
	Default(pvc)
	if *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || pvc.Status.Phase != corev1.ClaimPending {
		t.Errorf("pvc = %v %v", *pvc.Spec.VolumeMode, pvc.Status.Phase)
	}

	pv := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/d"}}}}
	Default(pv)
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("pv = %+v", pv.Spec)
	}
	if pv.Status.Phase != corev1.VolumePending || pv.Spec.HostPath.Type == nil {
		t.Errorf("pv status/hostPath not defaulted")
	}

	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
	Default(ep)
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("endpoints port protocol not defaulted")
	}

	n := &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}}
	Default(n)
	if q := n.Status.Allocatable[corev1.ResourceCPU]; q.String() != "4" {
		t.Errorf("allocatable = %v", n.Status.Allocatable)
	}
}

func TestReplicationControllerDefaults(t *testing.T) {
	rc := &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{
		Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{ctr("c", "nginx:1")}},
		},
	}}
	Default(rc)
	if *rc.Spec.Replicas != 1 || rc.Spec.Selector["app"] != "a" || rc.Labels["app"] != "a" {
		t.Errorf("rc = replicas %d selector %v labels %v", *rc.Spec.Replicas, rc.Spec.Selector, rc.Labels)
	}
	if rc.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("template not defaulted")
	}
}

func TestLimitRangeDefaults(t *testing.T) {
	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Min:  corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}}}}
	Default(lr)
	item := lr.Spec.Limits[0]
	if q := item.Default[corev1.ResourceCPU]; q.String() != "2" {
		t.Errorf("default cpu = %s", q.String())
	}
	if q := item.DefaultRequest[corev1.ResourceCPU]; q.String() != "2" {
		t.Errorf("defaultRequest cpu = %s", q.String())
	}
	if q := item.DefaultRequest[corev1.ResourceMemory]; q.String() != "64Mi" {
		t.Errorf("defaultRequest memory = %s", q.String())
	}
}

func TestNodePodCIDRs(t *testing.T) {
	cases := []struct {
		name  string
		in    corev1.NodeSpec
		cidr  string
		cidrs []string
	}{
		{"podCIDR only", corev1.NodeSpec{PodCIDR: "10.42.3.0/24"}, "10.42.3.0/24", []string{"10.42.3.0/24"}},
		{"podCIDRs only", corev1.NodeSpec{PodCIDRs: []string{"10.42.4.0/24", "fd00::/64"}}, "10.42.4.0/24", []string{"10.42.4.0/24", "fd00::/64"}},
		{"podCIDRs win", corev1.NodeSpec{PodCIDR: "10.42.9.0/24", PodCIDRs: []string{"10.42.5.0/24"}}, "10.42.5.0/24", []string{"10.42.5.0/24"}},
		{"neither", corev1.NodeSpec{}, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := &corev1.Node{Spec: c.in}
			node(n)
			if n.Spec.PodCIDR != c.cidr || len(n.Spec.PodCIDRs) != len(c.cidrs) {
				t.Fatalf("podCIDR %q podCIDRs %v, want %q %v", n.Spec.PodCIDR, n.Spec.PodCIDRs, c.cidr, c.cidrs)
			}
			for i := range c.cidrs {
				if n.Spec.PodCIDRs[i] != c.cidrs[i] {
					t.Fatalf("podCIDRs %v, want %v", n.Spec.PodCIDRs, c.cidrs)
				}
			}
		})
	}
}
