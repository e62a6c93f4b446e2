package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func ctr(name, image string) corev1.Container {
	return corev1.Container{Name: name, Image: image}
}

func TestPullPolicy(t *testing.T) {
	cases := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"nginx:1.25", corev1.PullIfNotPresent},
		{"registry.example.com:5000/app", corev1.PullAlways},
		{"registry.example.com:5000/app:v1", corev1.PullIfNotPresent},
		{"nginx@sha256:" + sha, corev1.PullIfNotPresent},
		{"nginx:latest@sha256:" + sha, corev1.PullAlways},
		{"", corev1.PullIfNotPresent},
		{"Not/Valid", corev1.PullIfNotPresent},
	}
	for _, c := range cases {
		t.Run(c.image, func(t *testing.T) {
			p := newPod(ctr("c", c.image))
			Default(p)
			if got := p.Spec.Containers[0].ImagePullPolicy; got != c.want {
				t.Errorf("pull policy for %q = %s, want %s", c.image, got, c.want)
			}
		})
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPodSpecDefaults(t *testing.T) {
	p := newPod(ctr("c", "nginx:1"))
	Default(p)
	s := p.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst},
		{"terminationGracePeriodSeconds", *s.TerminationGracePeriodSeconds, int64(30)},
		{"schedulerName", s.SchedulerName, "default-scheduler"},
		{"securityContext set", s.SecurityContext != nil, true},
		{"enableServiceLinks", *s.EnableServiceLinks, true},
		{"terminationMessagePath", s.Containers[0].TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", s.Containers[0].TerminationMessagePolicy, corev1.TerminationMessageReadFile},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestContainerDefaults(t *testing.T) {
	c := ctr("c", "nginx:1")
	c.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	c.Env = []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, PeriodSeconds: 5}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
	p := newPod(c)
	Default(p)
	got := p.Spec.Containers[0]
	if got.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol = %q", got.Ports[0].Protocol)
	}
	if got.Env[0].ValueFrom.FieldRef.APIVersion != "v1" {
		t.Errorf("fieldRef apiVersion = %q", got.Env[0].ValueFrom.FieldRef.APIVersion)
	}
	lp := got.LivenessProbe
	if lp.TimeoutSeconds != 1 || lp.PeriodSeconds != 10 || lp.SuccessThreshold != 1 || lp.FailureThreshold != 3 {
		t.Errorf("probe defaults = %+v", lp)
	}
	if lp.HTTPGet.Scheme != corev1.URISchemeHTTP || lp.HTTPGet.Path != "/" {
		t.Errorf("httpGet defaults = %+v", lp.HTTPGet)
	}
	if got.ReadinessProbe.PeriodSeconds != 5 {
		t.Errorf("explicit periodSeconds overwritten: %d", got.ReadinessProbe.PeriodSeconds)
	}
	if got.ReadinessProbe.GRPC.Service == nil || *got.ReadinessProbe.GRPC.Service != "" {
		t.Errorf("grpc service not defaulted to empty")
	}
	if got.Lifecycle.PreStop.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("lifecycle httpGet scheme not defaulted")
	}
}

func TestRequestsFromLimits(t *testing.T) {
	c := ctr("c", "nginx:1")
	c.Resources.Limits = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("500m"),
		corev1.ResourceMemory: resource.MustParse("128Mi"),
	}
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	p := newPod(c)
	Default(p)
	req := p.Spec.Containers[0].Resources.Requests
	if q := req[corev1.ResourceCPU]; q.String() != "100m" {
		t.Errorf("explicit cpu request changed to %s", q.String())
	}
	if q := req[corev1.ResourceMemory]; q.String() != "128Mi" {
		t.Errorf("memory request = %s, want 128Mi", q.String())
	}

	// Templates keep requests as written: the copy is Pod-only upstream.
	tmpl := &corev1.PodTemplate{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}}
	tmpl.Template.Spec.Containers[0].Resources.Requests = nil
	Default(tmpl)
	if tmpl.Template.Spec.Containers[0].Resources.Requests != nil {
		t.Errorf("template got requests defaulted")
	}
	if tmpl.Template.Spec.EnableServiceLinks != nil {
		t.Errorf("template got enableServiceLinks")
	}
}

func TestResourceRounding(t *testing.T) {
	c := ctr("c", "nginx:1")
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.0001")}
	p := newPod(c)
	Default(p)
	if q := p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; q.String() != "1m" {
		t.Errorf("cpu rounded to %s, want 1m", q.String())
	}
}

func TestVolumeDefaults(t *testing.T) {
	p := newPod(ctr("c", "nginx:1"))
	p.Spec.Volumes = []corev1.Volume{
		{Name: "bare"},
		{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}},
		{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
		{Name: "hp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}},
		{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "n", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
		}}}},
	}
	Default(p)
	v := p.Spec.Volumes
	if v[0].EmptyDir == nil {
		t.Errorf("bare volume not turned into emptyDir")
	}
	if *v[1].Secret.DefaultMode != 0o644 || *v[2].ConfigMap.DefaultMode != 0o644 {
		t.Errorf("defaultMode not 0644")
	}
	if v[3].HostPath.Type == nil || *v[3].HostPath.Type != corev1.HostPathUnset {
		t.Errorf("hostPath type not defaulted to empty")
	}
	if *v[4].Projected.DefaultMode != 0o644 || *v[4].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds != 3600 {
		t.Errorf("projected defaults wrong")
	}
	if v[4].Projected.Sources[1].DownwardAPI.Items[0].FieldRef.APIVersion != "v1" {
		t.Errorf("projected downwardAPI fieldRef apiVersion not defaulted")
	}
}

func TestHostNetworkPorts(t *testing.T) {
	c := ctr("c", "nginx:1")
	c.Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	p := newPod(c)
	p.Spec.HostNetwork = true
	Default(p)
	if p.Spec.Containers[0].Ports[0].HostPort != 8080 {
		t.Errorf("hostPort = %d, want 8080", p.Spec.Containers[0].Ports[0].HostPort)
	}
}

func TestServiceAccountMirroring(t *testing.T) {
	p := newPod(ctr("c", "nginx:1"))
	p.Spec.DeprecatedServiceAccount = "old"
	Default(p)
	if p.Spec.ServiceAccountName != "old" || p.Spec.DeprecatedServiceAccount != "old" {
		t.Errorf("serviceAccount fields = %q/%q", p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount)
	}
}

func TestPodIdempotent(t *testing.T) {
	c := ctr("c", "nginx")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	p := newPod(c)
	p.Spec.Volumes = []corev1.Volume{{Name: "v"}}
	Default(p)
	once := p.DeepCopy()
	Default(p)
	if !apiequality.Semantic.DeepEqual(once, p) {
		t.Errorf("second Default changed the pod")
	}
}
