package podsecurity

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The baseline level's checks (each also part of restricted unless restricted replaces it).

// windowsHostProcess: HostProcess containers give privileged access to the Windows host.
func windowsHostProcess(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var setters, bad []string
	if sc := spec.SecurityContext; sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
		setters = append(setters, "pod")
	}
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) > 0 {
		setters = append(setters, containers(bad))
	}
	if len(setters) == 0 {
		return nil
	}
	return &Violation{"hostProcess", strings.Join(setters, " and ") + " must not set securityContext.windowsOptions.hostProcess=true"}
}

// hostNamespaces: sharing the host's network, PID or IPC namespace.
func hostNamespaces(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var ns []string
	if spec.HostIPC {
		ns = append(ns, "hostIPC=true")
	}
	if spec.HostNetwork {
		ns = append(ns, "hostNetwork=true")
	}
	if spec.HostPID {
		ns = append(ns, "hostPID=true")
	}
	if len(ns) == 0 {
		return nil
	}
	return &Violation{"host namespaces", strings.Join(ns, ", ")}
}

// privileged containers.
func privileged(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var bad []string
	visit(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{"privileged", containers(bad) + " must not set securityContext.privileged=true"}
}

// baselineCapabilities are the capabilities container runtimes grant by default.
var baselineCapabilities = set{"AUDIT_WRITE": true, "CHOWN": true, "DAC_OVERRIDE": true, "FOWNER": true, "FSETID": true,
	"KILL": true, "MKNOD": true, "NET_BIND_SERVICE": true, "SETFCAP": true, "SETGID": true, "SETPCAP": true,
	"SETUID": true, "SYS_CHROOT": true}

// capabilitiesBaseline: adding capabilities beyond the runtime's default set.
func capabilitiesBaseline(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var bad []string
	caps := set{}
	visit(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			return
		}
		found := false
		for _, cp := range c.SecurityContext.Capabilities.Add {
			if !baselineCapabilities[string(cp)] {
				found = true
				caps[string(cp)] = true
			}
		}
		if found {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{"non-default capabilities", fmt.Sprintf("%s must not include %s in securityContext.capabilities.add", containers(bad), joinQuote(caps.list()))}
}

// hostPathVolumes: host directories mounted into the pod.
func hostPathVolumes(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var bad []string
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			bad = append(bad, v.Name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Violation{"hostPath volumes", plural("volume", "volumes", len(bad)) + " " + joinQuote(bad)}
}

// hostPorts: ports bound on the node.
func hostPorts(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var bad []string
	ports := map[int32]bool{}
	visit(spec, func(c *corev1.Container) {
		found := false
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				found = true
				ports[p.HostPort] = true
			}
		}
		if found {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	// Sorted as strings, as upstream sorts them.
	ps := set{}
	for p := range ports {
		ps[strconv.Itoa(int(p))] = true
	}
	return &Violation{"hostPort", fmt.Sprintf("%s %s %s %s", containers(bad), plural("uses", "use", len(bad)),
		plural("hostPort", "hostPorts", len(ps)), strings.Join(ps.list(), ", "))}
}

// hostProbesAndLifecycle: probes and lifecycle handlers aimed at another host (v1.34+).
func hostProbesAndLifecycle(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	bad, hosts := set{}, set{}
	probe := func(name string, p *corev1.ProbeHandler) {
		if p.HTTPGet != nil && p.HTTPGet.Host != "" {
			bad[name], hosts[p.HTTPGet.Host] = true, true
		}
		if p.TCPSocket != nil && p.TCPSocket.Host != "" {
			bad[name], hosts[p.TCPSocket.Host] = true, true
		}
	}
	handler := func(name string, h *corev1.LifecycleHandler) {
		if h.HTTPGet != nil && h.HTTPGet.Host != "" {
			bad[name], hosts[h.HTTPGet.Host] = true, true
		}
		if h.TCPSocket != nil && h.TCPSocket.Host != "" {
			bad[name], hosts[h.TCPSocket.Host] = true, true
		}
	}
	visit(spec, func(c *corev1.Container) {
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p != nil {
				probe(c.Name, &p.ProbeHandler)
			}
		}
		if c.Lifecycle != nil {
			for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
				if h != nil {
					handler(c.Name, h)
				}
			}
		}
	})
	if len(bad) == 0 {
		return nil
	}
	names := bad.list()
	return &Violation{"probe or lifecycle host", fmt.Sprintf("%s %s %s %s", containers(names), plural("uses", "use", len(names)),
		plural("probe or lifecycle host", "probe or lifecycle hosts", len(hosts)), joinQuote(hosts.list()))}
}

// appArmorProfile: AppArmor may only be the runtime default or a profile loaded on the node.
func appArmorProfile(_ Version, meta *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	allowed := func(t corev1.AppArmorProfileType) bool {
		return t == corev1.AppArmorProfileTypeRuntimeDefault || t == corev1.AppArmorProfileTypeLocalhost
	}
	var setters []string
	values := set{}
	if sc := spec.SecurityContext; sc != nil && sc.AppArmorProfile != nil && !allowed(sc.AppArmorProfile.Type) {
		setters = append(setters, "pod")
		values[string(sc.AppArmorProfile.Type)] = true
	}
	var bad []string
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.AppArmorProfile != nil && !allowed(sc.AppArmorProfile.Type) {
			bad = append(bad, c.Name)
			values[string(sc.AppArmorProfile.Type)] = true
		}
	})
	if len(bad) > 0 {
		setters = append(setters, containers(bad))
	}
	list := values.list()
	var annotations []string
	for k, v := range meta.Annotations {
		if strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) && v != "" &&
			v != corev1.DeprecatedAppArmorBetaProfileRuntimeDefault && !strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix) {
			annotations = append(annotations, fmt.Sprintf("%s=%q", k, v))
		}
	}
	if len(annotations) > 0 {
		sort.Strings(annotations)
		list = append(list, annotations...)
		setters = append(setters, plural("annotation", "annotations", len(annotations)))
	}
	if len(setters) == 0 {
		return nil
	}
	return &Violation{plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(list)),
		fmt.Sprintf("%s must not set AppArmor profile type to %s", strings.Join(setters, " and "), joinQuote(list))}
}

var seLinuxTypes = set{"": true, "container_t": true, "container_init_t": true, "container_kvm_t": true, "container_engine_t": true}

// seLinuxOptions: only the container types; no custom user or role.
func seLinuxOptions(v Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	types := set{}
	var setUser, setRole bool
	valid := func(o *corev1.SELinuxOptions) bool {
		ok := true
		// container_engine_t joined the allowed types in v1.31.
		if !seLinuxTypes[o.Type] || (o.Type == "container_engine_t" && !v.atLeast(1, 31)) {
			ok = false
			types[o.Type] = true
		}
		if o.User != "" {
			ok, setUser = false, true
		}
		if o.Role != "" {
			ok, setRole = false, true
		}
		return ok
	}
	var setters, bad []string
	if sc := spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil && !valid(sc.SELinuxOptions) {
		setters = append(setters, "pod")
	}
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.SELinuxOptions != nil && !valid(sc.SELinuxOptions) {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) > 0 {
		setters = append(setters, containers(bad))
	}
	if len(setters) == 0 {
		return nil
	}
	var data []string
	if len(types) > 0 {
		data = append(data, plural("type", "types", len(types))+" "+joinQuote(types.list()))
	}
	if setUser {
		data = append(data, "user may not be set")
	}
	if setRole {
		data = append(data, "role may not be set")
	}
	return &Violation{"seLinuxOptions", fmt.Sprintf("%s set forbidden securityContext.seLinuxOptions: %s", strings.Join(setters, " and "), strings.Join(data, "; "))}
}

// procMount: the default /proc masks are required.
func procMount(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var bad []string
	types := set{}
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			bad = append(bad, c.Name)
			types[string(*sc.ProcMount)] = true
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{"procMount", fmt.Sprintf("%s must not set securityContext.procMount to %s", containers(bad), joinQuote(types.list()))}
}

// seccompBaseline: seccomp must not be turned off.
func seccompBaseline(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var setters, bad []string
	if sc := spec.SecurityContext; sc != nil && sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
		setters = append(setters, "pod")
	}
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) > 0 {
		setters = append(setters, containers(bad))
	}
	if len(setters) == 0 {
		return nil
	}
	return &Violation{"seccompProfile", strings.Join(setters, " and ") + ` must not set securityContext.seccompProfile.type to "Unconfined"`}
}

// safeSysctls lists the namespaced, isolated sysctls by the release that allowed them.
var safeSysctls = []struct {
	since [2]int
	names []string
}{
	{[2]int{1, 0}, []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
		"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}},
	{[2]int{1, 27}, []string{"net.ipv4.ip_local_reserved_ports"}},
	{[2]int{1, 29}, []string{"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
		"net.ipv4.tcp_keepalive_probes"}},
	{[2]int{1, 32}, []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}},
}

// sysctls: only the safe set.
func sysctls(v Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	if spec.SecurityContext == nil {
		return nil
	}
	var bad []string
	for _, s := range spec.SecurityContext.Sysctls {
		ok := false
		for _, group := range safeSysctls {
			if v.atLeast(group.since[0], group.since[1]) && slices.Contains(group.names, s.Name) {
				ok = true
			}
		}
		if !ok {
			bad = append(bad, s.Name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Violation{"forbidden sysctls", strings.Join(bad, ", ")}
}

// --- restricted ---
