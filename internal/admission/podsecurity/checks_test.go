package podsecurity

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

// restrictedPod passes the restricted level; cases start from it and break one thing.
func restrictedPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
			Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}},
		},
	}
}

func sc(p *corev1.Pod) *corev1.SecurityContext { return p.Spec.Containers[0].SecurityContext }

var (
	baseline   = LevelVersion{Level: Baseline}
	restricted = LevelVersion{Level: Restricted}
)

func TestBaselineChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   string
	}{
		{"compliant", func(p *corev1.Pod) {}, ""},
		{"default pod", func(p *corev1.Pod) { p.Spec.SecurityContext = nil; p.Spec.Containers[0].SecurityContext = nil }, ""},
		{"hostProcess", func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr(true)}
			sc(p).WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptr(true)}
		}, `hostProcess (pod and container "c" must not set securityContext.windowsOptions.hostProcess=true)`},
		{"host namespaces", func(p *corev1.Pod) { p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true },
			`host namespaces (hostIPC=true, hostNetwork=true, hostPID=true)`},
		{"privileged", func(p *corev1.Pod) {
			sc(p).Privileged = ptr(true)
			p.Spec.InitContainers = []corev1.Container{{Name: "init", SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)}}}
		}, `privileged (containers "init", "c" must not set securityContext.privileged=true)`},
		{"privileged ephemeral", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)}}}}
		}, `privileged (container "debug" must not set securityContext.privileged=true)`},
		{"baseline capabilities allowed", func(p *corev1.Pod) { sc(p).Capabilities.Add = []corev1.Capability{"CHOWN", "NET_BIND_SERVICE"} }, ""},
		{"capabilities", func(p *corev1.Pod) { sc(p).Capabilities.Add = []corev1.Capability{"SYS_ADMIN", "NET_RAW", "CHOWN"} },
			`non-default capabilities (container "c" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add)`},
		{"hostPath", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		}, `hostPath volumes (volume "root")`},
		{"hostPorts", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 443, HostPort: 443}}
		}, `hostPort (container "c" uses hostPorts 443, 8080)`},
		{"probe host", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1"}}}
		}, `probe or lifecycle host (container "c" uses probe or lifecycle host "10.0.0.1")`},
		{"apparmor field", func(p *corev1.Pod) {
			sc(p).AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		}, `forbidden AppArmor profile (container "c" must not set AppArmor profile type to "Unconfined")`},
		{"apparmor annotation", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}
		}, `forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/c=\"unconfined\"")`},
		{"apparmor allowed", func(p *corev1.Pod) {
			p.Spec.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
			p.Annotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/c": "localhost/mine"}
		}, ""},
		{"selinux", func(p *corev1.Pod) {
			p.Spec.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t", User: "root"}
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Role: "sysadm_r"}
		}, `seLinuxOptions (pod and container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set)`},
		{"selinux allowed", func(p *corev1.Pod) {
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "container_t", Level: "s0:c1"}
		}, ""},
		{"procMount", func(p *corev1.Pod) { sc(p).ProcMount = ptr(corev1.UnmaskedProcMount) },
			`procMount (container "c" must not set securityContext.procMount to "Unmasked")`},
		{"seccomp unconfined", func(p *corev1.Pod) {
			p.Spec.SecurityContext.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined
		}, `seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")`},
		{"sysctls", func(p *corev1.Pod) {
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.tcp_syncookies"}, {Name: "kernel.msgmax"}, {Name: "net.ipv4.tcp_keepalive_time"}}
		}, `forbidden sysctls (kernel.msgmax)`},
		{"two reasons in order", func(p *corev1.Pod) { sc(p).Privileged = ptr(true); p.Spec.HostNetwork = true },
			`host namespaces (hostNetwork=true), privileged (container "c" must not set securityContext.privileged=true)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := restrictedPod()
			tc.mutate(p)
			if got := Message(Evaluate(baseline, &p.ObjectMeta, &p.Spec)); got != tc.want {
				t.Errorf("baseline:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRestrictedChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   string
	}{
		{"compliant", func(p *corev1.Pod) {}, ""},
		{"default pod", func(p *corev1.Pod) { p.Spec.SecurityContext = nil; p.Spec.Containers[0].SecurityContext = nil },
			`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
				`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
				`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
				`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`},
		{"privileged", func(p *corev1.Pod) { sc(p).Privileged = ptr(true); sc(p).AllowPrivilegeEscalation = nil },
			`privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`},
		{"volumes", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				corev1.Volume{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}},
				corev1.Volume{Name: "nfs", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{}}},
				corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}, `restricted volume types (volumes "root", "nfs" use restricted volume types "hostPath", "nfs")`},
		{"allowPrivilegeEscalation true", func(p *corev1.Pod) { sc(p).AllowPrivilegeEscalation = ptr(true) },
			`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`},
		{"runAsNonRoot false", func(p *corev1.Pod) { sc(p).RunAsNonRoot = ptr(false) },
			`runAsNonRoot != true (container "c" must not set securityContext.runAsNonRoot=false)`},
		{"runAsNonRoot on container", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsNonRoot = nil; sc(p).RunAsNonRoot = ptr(true) }, ""},
		{"runAsUser 0", func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsUser = ptr(int64(0))
			sc(p).RunAsUser = ptr(int64(1000))
		},
			`runAsUser=0 (pod must not set runAsUser=0)`},
		{"seccomp missing on pod, set on container", func(p *corev1.Pod) {
			p.Spec.SecurityContext.SeccompProfile = nil
			sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}
		}, ""},
		{"seccomp unconfined container", func(p *corev1.Pod) {
			sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, `seccompProfile (container "c" must not set securityContext.seccompProfile.type to "Unconfined")`},
		{"capabilities", func(p *corev1.Pod) {
			sc(p).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE", "CHOWN"}}
		}, `unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "CHOWN" in securityContext.capabilities.add)`},
		{"capabilities beyond baseline reported once", func(p *corev1.Pod) { sc(p).Capabilities.Add = []corev1.Capability{"SYS_ADMIN"} },
			`unrestricted capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)`},
		{"windows pod", func(p *corev1.Pod) {
			p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
			p.Spec.SecurityContext.SeccompProfile = nil
			p.Spec.Containers[0].SecurityContext = nil
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := restrictedPod()
			tc.mutate(p)
			if got := Message(Evaluate(restricted, &p.ObjectMeta, &p.Spec)); got != tc.want {
				t.Errorf("restricted:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	p := restrictedPod()
	p.Spec.SecurityContext.RunAsUser = ptr(int64(0))
	p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.tcp_keepalive_time"}}
	for _, tc := range []struct {
		version string
		want    string
	}{
		{"latest", `runAsUser=0 (pod must not set runAsUser=0)`},
		{"v1.30", `runAsUser=0 (pod must not set runAsUser=0)`},
		{"v1.99", `runAsUser=0 (pod must not set runAsUser=0)`},
		{"v1.23", `forbidden sysctls (net.ipv4.tcp_keepalive_time), runAsUser=0 (pod must not set runAsUser=0)`},
		{"v1.22", `forbidden sysctls (net.ipv4.tcp_keepalive_time)`},
	} {
		v, err := ParseVersion(tc.version)
		if err != nil {
			t.Fatal(err)
		}
		if got := Message(Evaluate(LevelVersion{Restricted, v}, &p.ObjectMeta, &p.Spec)); got != tc.want {
			t.Errorf("restricted:%s:\n got %s\nwant %s", tc.version, got, tc.want)
		}
	}
	// Before v1.22 restricted had no drop-ALL rule; the baseline capabilities rule applies instead.
	q := restrictedPod()
	sc(q).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}
	if got, want := Message(Evaluate(LevelVersion{Restricted, MajorMinor(1, 21)}, &q.ObjectMeta, &q.Spec)),
		`non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)`; got != want {
		t.Errorf("restricted:v1.21:\n got %s\nwant %s", got, want)
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"latest", "v1.0", "v1.30"} {
		if _, err := ParseVersion(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "1.30", "v2.0", "v1.", "v1.x", "v1.01", "Latest"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	if _, err := ParseLevel("Restricted"); err == nil {
		t.Error("levels are case-sensitive")
	}
}

func TestPolicyFor(t *testing.T) {
	def := Policy{Enforce: LevelVersion{Level: Privileged}, Audit: LevelVersion{Level: Privileged}, Warn: LevelVersion{Level: Privileged}}
	p, errs := PolicyFor(map[string]string{EnforceLevelLabel: "baseline", EnforceVersionLabel: "v1.29"}, def)
	if len(errs) != 0 || p.Enforce.String() != "baseline:v1.29" || p.Warn.String() != "baseline:v1.29" || p.Audit.String() != "privileged:latest" {
		t.Errorf("warn follows enforce: %+v %v", p, errs)
	}
	p, _ = PolicyFor(map[string]string{EnforceLevelLabel: "baseline", WarnLevelLabel: "privileged"}, def)
	if p.Warn.Level != Privileged {
		t.Errorf("explicit warn kept: %+v", p)
	}
	p, errs = PolicyFor(map[string]string{EnforceLevelLabel: "strict", WarnLevelLabel: "nope", AuditVersionLabel: "1.2"}, def)
	if len(errs) != 3 || p.Enforce.Level != Restricted || p.Warn.Level != Privileged {
		t.Errorf("invalid labels: enforce fails closed, warn open: %+v %v", p, errs)
	}
	if got := errs[0].Error(); got != `metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted` {
		t.Errorf("error text: %s", got)
	}
}

func TestConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
      enforce-version: v1.30
      warn: restricted
    exemptions:
      usernames: [admin]
      namespaces: [kube-system]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Policy()
	if p.Enforce.String() != "baseline:v1.30" || p.Warn.String() != "restricted:latest" || p.Audit.String() != "privileged:latest" ||
		c.Exemptions.Usernames[0] != "admin" || c.Exemptions.Namespaces[0] != "kube-system" {
		t.Errorf("got %+v %+v", p, c.Exemptions)
	}
	if _, err := ParseConfig([]byte("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  enforce: strict\n")); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := ParseConfig([]byte("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefault: {}\n")); err == nil {
		t.Error("unknown field accepted")
	}
}
