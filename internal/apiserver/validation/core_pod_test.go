package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(mut ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "nginx:1.25",
		}}},
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

func c0(f func(*corev1.Container)) func(*corev1.Pod) {
	return func(p *corev1.Pod) { f(&p.Spec.Containers[0]) }
}

func TestValidatePod(t *testing.T) {
	grace := int64(30)
	cases := []struct {
		name string
		pod  *corev1.Pod
		want []wantErr
	}{
		{"valid", pod(), nil},
		{"no containers", pod(func(p *corev1.Pod) { p.Spec.Containers = nil }), []wantErr{{req, "spec.containers", ""}}},
		{"container name", pod(c0(func(c *corev1.Container) { c.Name = "App_1" })), []wantErr{{inv, "spec.containers[0].name", "RFC 1123"}}},
		{"container name required", pod(c0(func(c *corev1.Container) { c.Name = "" })), []wantErr{{req, "spec.containers[0].name", ""}}},
		{"image required", pod(c0(func(c *corev1.Container) { c.Image = "" })), []wantErr{{req, "spec.containers[0].image", ""}}},
		{"image whitespace", pod(c0(func(c *corev1.Container) { c.Image = " nginx" })), []wantErr{{inv, "spec.containers[0].image", "leading or trailing whitespace"}}},
		{"duplicate container", pod(func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) }),
			[]wantErr{{dup, "spec.containers[1].name", ""}}},
		{"init name clash", pod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "app", Image: "busybox"}}
		}), []wantErr{{dup, "spec.initContainers[0].name", ""}}},
		{"port range", pod(c0(func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{ContainerPort: 70000}} })),
			[]wantErr{{inv, "spec.containers[0].ports[0].containerPort", "between 1 and 65535"}}},
		{"port required", pod(c0(func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{Name: "http"}} })),
			[]wantErr{{req, "spec.containers[0].ports[0].containerPort", ""}}},
		{"port protocol", pod(c0(func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "ICMP"}} })),
			[]wantErr{{unsup, "spec.containers[0].ports[0].protocol", `"SCTP", "TCP", "UDP"`}}},
		{"duplicate port name", pod(c0(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "http", ContainerPort: 81}}
		})), []wantErr{{dup, "spec.containers[0].ports[1].name", ""}}},
		{"host port conflict", pod(c0(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080}}
		})), []wantErr{{dup, "spec.containers[0].ports[1].hostPort", ""}}},
		{"env name", pod(c0(func(c *corev1.Container) { c.Env = []corev1.EnvVar{{Name: "A=B"}} })),
			[]wantErr{{inv, "spec.containers[0].env[0].name", "printable ASCII"}}},
		{"env name required", pod(c0(func(c *corev1.Container) { c.Env = []corev1.EnvVar{{Value: "x"}} })),
			[]wantErr{{req, "spec.containers[0].env[0].name", ""}}},
		{"env valueFrom and value", pod(c0(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "N", Value: "v", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		})), []wantErr{{inv, "spec.containers[0].env[0].valueFrom", "may not be specified when `value` is not empty"}}},
		{"env bad fieldPath", pod(c0(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}}}
		})), []wantErr{{inv, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "field label not supported: spec.bogus"}}},
		{"env unsupported fieldPath", pod(c0(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.phase"}}}}
		})), []wantErr{{unsup, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", ""}}},
		{"env secret key", pod(c0(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}}
		})), []wantErr{{req, "spec.containers[0].env[0].valueFrom.secretKeyRef.key", ""}}},
		{"envFrom without source", pod(c0(func(c *corev1.Container) { c.EnvFrom = []corev1.EnvFromSource{{Prefix: "P_"}} })),
			[]wantErr{{inv, "spec.containers[0].envFrom", "must specify one of: `configMapRef` or `secretRef`"}}},
		{"mount of missing volume", pod(c0(func(c *corev1.Container) {
			c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		})), []wantErr{{nf, "spec.containers[0].volumeMounts[0].name", ""}}},
		{"mount path required", pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data"}}
		}), []wantErr{{req, "spec.containers[0].volumeMounts[0].mountPath", ""}}},
		{"subPath backsteps", pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d", SubPath: "../x"}}
		}), []wantErr{{inv, "spec.containers[0].volumeMounts.subPath", "must not contain '..'"}}},
		{"restartPolicy", pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }),
			[]wantErr{{unsup, "spec.restartPolicy", `"Always", "OnFailure", "Never"`}}},
		{"dnsPolicy", pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }), []wantErr{{unsup, "spec.dnsPolicy", ""}}},
		{"dnsPolicy None needs config", pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }),
			[]wantErr{{req, "spec.dnsConfig", "must provide `dnsConfig`"}}},
		{"pull policy", pod(c0(func(c *corev1.Container) { c.ImagePullPolicy = "Sometimes" })),
			[]wantErr{{unsup, "spec.containers[0].imagePullPolicy", ""}}},
		{"requests above limits", pod(c0(func(c *corev1.Container) {
			c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		})), []wantErr{{inv, "spec.containers[0].resources.requests", "must be less than or equal to cpu limit of 500m"}}},
		{"negative quantity", pod(c0(func(c *corev1.Container) {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}
		})), []wantErr{{inv, "spec.containers[0].resources.requests[memory]", "must be greater than or equal to 0"}}},
		{"unknown resource", pod(c0(func(c *corev1.Container) {
			c.Resources.Limits = corev1.ResourceList{"gpus": resource.MustParse("1")}
		})), []wantErr{{inv, "spec.containers[0].resources.limits[gpus]", "must be a standard resource for containers"}}},
		{"extended resource needs limit", pod(c0(func(c *corev1.Container) {
			c.Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
		})), []wantErr{{req, "spec.containers[0].resources.limits", "Limit must be set for non overcommitable resources"}}},
		{"probe without handler", pod(c0(func(c *corev1.Container) { c.LivenessProbe = &corev1.Probe{} })),
			[]wantErr{{req, "spec.containers[0].livenessProbe", "must specify a handler type"}}},
		{"liveness success threshold", pod(c0(func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}, SuccessThreshold: 2}
		})), []wantErr{{inv, "spec.containers[0].livenessProbe.successThreshold", "must be 1"}}},
		{"two handlers", pod(c0(func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
		})), []wantErr{{forb, "spec.containers[0].readinessProbe.tcpSocket", "may not specify more than 1 handler type"}}},
		{"httpGet port name", pod(c0(func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("Not_Valid")}}}
		})), []wantErr{{inv, "spec.containers[0].readinessProbe.httpGet.port", ""}}},
		{"init container probe", pod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}), []wantErr{{forb, "spec.initContainers[0].readinessProbe", "without restartPolicy=Always"}}},
		{"sidecar probe allowed", pod(func(p *corev1.Pod) {
			always := corev1.ContainerRestartPolicyAlways
			p.Spec.InitContainers = []corev1.Container{{Name: "side", Image: "busybox", RestartPolicy: &always, ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}), nil},
		{"explicit grace period", pod(func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = &grace }), nil},
		{"activeDeadlineSeconds", pod(func(p *corev1.Pod) { z := int64(0); p.Spec.ActiveDeadlineSeconds = &z }),
			[]wantErr{{inv, "spec.activeDeadlineSeconds", "must be between 1 and 2147483647"}}},
		{"hostname", pod(func(p *corev1.Pod) { p.Spec.Hostname = "Bad.Host" }), []wantErr{{inv, "spec.hostname", ""}}},
		{"nodeSelector", pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"a": "b c"} }),
			[]wantErr{{inv, "spec.nodeSelector", ""}}},
		{"toleration operator", pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}), []wantErr{{inv, "spec.tolerations[0].operator", "operator must be Exists when `key` is empty"}}},
		{"toleration seconds need NoExecute", pod(func(p *corev1.Pod) {
			s := int64(5)
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, TolerationSeconds: &s, Effect: corev1.TaintEffectNoSchedule}}
		}), []wantErr{{inv, "spec.tolerations[0].effect", "effect must be 'NoExecute'"}}},
		{"ephemeral on create", pod(func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
		}), []wantErr{{forb, "spec.ephemeralContainers", "cannot be set on create"}}},
		{"nodeName with gates", pod(func(p *corev1.Pod) {
			p.Spec.NodeName = "n1"
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		}), []wantErr{{forb, "spec.nodeName", "cannot be set until all schedulingGates have been cleared"}}},
		{"serviceAccountName", pod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Bad_SA" }),
			[]wantErr{{inv, "spec.serviceAccountName", ""}}},
		{"hostNetwork ports", pod(func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 81}}
		}), []wantErr{{inv, "spec.containers[0].ports[0].hostPort", "must match `containerPort`"}}},
		{"affinity weight", pod(func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 0}}}}
		}), []wantErr{{inv, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", "must be in the range 1-100"}}},
		{"pod affinity topologyKey", pod(func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{}}}}
		}), []wantErr{{req, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", "can not be empty"}}},
		{"topology spread maxSkew", pod(func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}), []wantErr{{inv, "spec.topologySpreadConstraints[0].maxSkew", "must be greater than zero"}}},
		{"runAsUser", pod(c0(func(c *corev1.Container) {
			u := int64(-1)
			c.SecurityContext = &corev1.SecurityContext{RunAsUser: &u}
		})), []wantErr{{inv, "spec.containers[0].securityContext.runAsUser", ""}}},
		{"sysctl on hostNetwork", pod(func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}}
		}), []wantErr{{inv, "spec.securityContext.sysctls[0].name", "may not be specified when 'hostNetwork' is true"}}},
		{"os name", pod(func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: "plan9"} }), []wantErr{{unsup, "spec.os", ""}}},
		{"windows forbids runAsUser", pod(func(p *corev1.Pod) {
			u := int64(1000)
			p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &u}
		}), []wantErr{{forb, "spec.securityContext.runAsUser", "cannot be set for a windows pod"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.pod, nil, c.want...) })
	}
}

func TestValidatePodVolumes(t *testing.T) {
	mode := int32(01000)
	cases := []struct {
		name    string
		volumes []corev1.Volume
		want    []wantErr
	}{
		{"valid sources", []corev1.Volume{
			{Name: "empty"},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
			{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "pvc"}}},
		}, nil},
		{"duplicate names", []corev1.Volume{{Name: "v"}, {Name: "v"}}, []wantErr{{dup, "spec.volumes[1].name", ""}}},
		{"name format", []corev1.Volume{{Name: "Bad_Name"}}, []wantErr{{inv, "spec.volumes[0].name", ""}}},
		{"name required", []corev1.Volume{{Name: ""}}, []wantErr{{req, "spec.volumes[0].name", ""}}},
		{"two sources", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}}},
			[]wantErr{{forb, "spec.volumes[0].hostPath", "may not specify more than 1 volume type"}}},
		{"secret name", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}}},
			[]wantErr{{req, "spec.volumes[0].secret.secretName", ""}}},
		{"configMap mode", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, DefaultMode: &mode}}}},
			[]wantErr{{inv, "spec.volumes[0].configMap.defaultMode", "0777"}}},
		{"hostPath type", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: "/x", Type: func() *corev1.HostPathType { t := corev1.HostPathType("Weird"); return &t }()}}}},
			[]wantErr{{unsup, "spec.volumes[0].hostPath.type", ""}}},
		{"items path", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Items: []corev1.KeyToPath{{Key: "k", Path: "/abs"}}}}}},
			[]wantErr{{inv, "spec.volumes[0].configMap.items[0].path", "must be a relative path"}}},
		{"nfs relative path", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "rel"}}}},
			[]wantErr{{inv, "spec.volumes[0].nfs.path", "must be an absolute path"}}},
		{"projected token needs serviceAccountName", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}},
			[]wantErr{{forb, "spec.volumes[0].projected.sources[0].serviceAccountToken", "serviceAccountName is not set"}}},
		{"ephemeral template", []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
			VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{}}}}},
			[]wantErr{{req, "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes", ""},
				{req, "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[storage]", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, pod(func(p *corev1.Pod) { p.Spec.Volumes = c.volumes }), nil, c.want...)
		})
	}
}

func TestValidatePodUpdate(t *testing.T) {
	cases := []struct {
		name string
		mut  func(*corev1.Pod)
		want []wantErr
	}{
		{"no change", func(*corev1.Pod) {}, nil},
		{"image change", c0(func(c *corev1.Container) { c.Image = "nginx:1.26" }), nil},
		{"labels are metadata", func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }, nil},
		{"add toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
		}, nil},
		{"port change", c0(func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{ContainerPort: 80}} }),
			[]wantErr{{forb, "spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"}}},
		{"add container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
		}, []wantErr{{forb, "spec.containers", "pod updates may not add or remove containers"}}},
		{"clear image", c0(func(c *corev1.Container) { c.Image = "" }), []wantErr{{req, "spec.containers[0].image", ""}}},
		{"raise deadline", func(p *corev1.Pod) { d := int64(100); p.Spec.ActiveDeadlineSeconds = &d },
			[]wantErr{{inv, "spec.activeDeadlineSeconds", "must be less than or equal to previous value"}}},
		{"new scheduling gate", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "example.com/new"})
		}, []wantErr{{forb, "spec.schedulingGates[1].name", "only deletion is allowed"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := pod(func(p *corev1.Pod) {
				d := int64(50)
				p.Spec.ActiveDeadlineSeconds = &d
				p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
			})
			n := old.DeepCopy()
			c.mut(n)
			check(t, n, old, c.want...)
		})
	}

	// Removing a gate is allowed.
	old := pod(func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} })
	n := old.DeepCopy()
	n.Spec.SchedulingGates = nil
	check(t, n, old)
}
