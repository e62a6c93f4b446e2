package validation

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateSecurityContext checks a container's security context. Privileged
// containers are allowed: the cluster-wide allow-privileged switch and Pod
// Security admission are policy, not validation.
func validateSecurityContext(sc *corev1.SecurityContext, p *field.Path, hostUsers bool) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	if sc.RunAsUser != nil {
		errs = append(errs, msgs(validation.IsValidUserID(*sc.RunAsUser), *sc.RunAsUser, p.Child("runAsUser"))...)
	}
	if sc.RunAsGroup != nil {
		errs = append(errs, msgs(validation.IsValidGroupID(*sc.RunAsGroup), *sc.RunAsGroup, p.Child("runAsGroup"))...)
	}
	if sc.ProcMount != nil {
		errs = append(errs, oneOf(*sc.ProcMount, p.Child("procMount"), corev1.DefaultProcMount, corev1.UnmaskedProcMount)...)
		// Unmasking /proc is only safe inside a user namespace.
		if hostUsers && *sc.ProcMount == corev1.UnmaskedProcMount {
			errs = append(errs, field.Invalid(p.Child("procMount"), sc.ProcMount, "`hostUsers` must be false to use `Unmasked`"))
		}
	}
	errs = append(errs, validateSeccompProfile(sc.SeccompProfile, p.Child("seccompProfile"))...)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(p, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if string(c) == "CAP_SYS_ADMIN" {
					errs = append(errs, field.Invalid(p, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	errs = append(errs, validateAppArmorProfile(sc.AppArmorProfile, p.Child("appArmorProfile"))...)
	return errs
}

func validateSeccompProfile(sp *corev1.SeccompProfile, p *field.Path) field.ErrorList {
	if sp == nil {
		return nil
	}
	var errs field.ErrorList
	switch sp.Type {
	case corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
	case "":
		errs = append(errs, field.Required(p.Child("type"), "type is required when seccompProfile is set"))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), sp.Type, []corev1.SeccompProfileType{
			corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}))
	}
	if sp.Type == corev1.SeccompProfileTypeLocalhost {
		if sp.LocalhostProfile == nil {
			errs = append(errs, field.Required(p.Child("localhostProfile"), "must be set when seccomp type is Localhost"))
		} else {
			errs = append(errs, validateLocalDescendingPath(*sp.LocalhostProfile, p.Child("localhostProfile"))...)
		}
	} else if sp.LocalhostProfile != nil {
		errs = append(errs, field.Invalid(p.Child("localhostProfile"), sp, "can only be set when seccomp type is Localhost"))
	}
	return errs
}

func validateAppArmorProfile(ap *corev1.AppArmorProfile, p *field.Path) field.ErrorList {
	if ap == nil {
		return nil
	}
	var errs field.ErrorList
	switch ap.Type {
	case corev1.AppArmorProfileTypeLocalhost:
		if ap.LocalhostProfile == nil {
			errs = append(errs, field.Required(p.Child("localhostProfile"), "must be set when AppArmor type is Localhost"))
			break
		}
		trimmed := strings.TrimSpace(*ap.LocalhostProfile)
		if trimmed != *ap.LocalhostProfile {
			errs = append(errs, field.Invalid(p.Child("localhostProfile"), *ap.LocalhostProfile, "must not be padded with whitespace"))
		} else if trimmed == "" {
			errs = append(errs, field.Required(p.Child("localhostProfile"), "must be set when AppArmor type is Localhost"))
		}
		if len(*ap.LocalhostProfile) > 4095 {
			errs = append(errs, field.TooLong(p.Child("localhostProfile"), "", 4095))
		}
	case corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined:
		if ap.LocalhostProfile != nil {
			errs = append(errs, field.Invalid(p.Child("localhostProfile"), ap.LocalhostProfile, "can only be set when AppArmor type is Localhost"))
		}
	case "":
		errs = append(errs, field.Required(p.Child("type"), "type is required when appArmorProfile is set"))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), ap.Type, []corev1.AppArmorProfileType{
			corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined}))
	}
	return errs
}

const sysctlSegmentFmt = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"

var sysctlRegexp = regexp.MustCompile("^(" + sysctlSegmentFmt + "[\\./])*" + sysctlSegmentFmt + "$")

// sysctlNamespace says which kernel namespace a sysctl belongs to: pods
// sharing the host's network or IPC namespace may not set those.
func sysctlNamespace(s string) string {
	s = strings.ReplaceAll(s, "/", ".")
	switch {
	case strings.HasPrefix(s, "net."):
		return "net"
	case s == "kernel.sem", strings.HasPrefix(s, "kernel.shm"), strings.HasPrefix(s, "kernel.msg"), strings.HasPrefix(s, "fs.mqueue."):
		return "ipc"
	}
	return ""
}

// validatePodSecurityContext checks the pod-level security context; host
// namespaces live on the v1 PodSpec but upstream reports some related
// errors under securityContext, which is kept.
func validatePodSecurityContext(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	sc := spec.SecurityContext
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	if sc.FSGroup != nil {
		errs = append(errs, msgs(validation.IsValidGroupID(*sc.FSGroup), *sc.FSGroup, p.Child("fsGroup"))...)
	}
	if sc.RunAsUser != nil {
		errs = append(errs, msgs(validation.IsValidUserID(*sc.RunAsUser), *sc.RunAsUser, p.Child("runAsUser"))...)
	}
	if sc.RunAsGroup != nil {
		errs = append(errs, msgs(validation.IsValidGroupID(*sc.RunAsGroup), *sc.RunAsGroup, p.Child("runAsGroup"))...)
	}
	for i, g := range sc.SupplementalGroups {
		errs = append(errs, msgs(validation.IsValidGroupID(g), g, p.Child("supplementalGroups").Index(i))...)
	}
	if spec.ShareProcessNamespace != nil && spec.HostPID && *spec.ShareProcessNamespace {
		errs = append(errs, field.Invalid(p.Child("shareProcessNamespace"), *spec.ShareProcessNamespace, "ShareProcessNamespace and HostPID cannot both be enabled"))
	}
	names := sets.New[string]()
	for i, s := range sc.Sysctls {
		np := p.Child("sysctls").Index(i).Child("name")
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(np, ""))
		case len(s.Name) > 253 || !sysctlRegexp.MatchString(s.Name):
			errs = append(errs, field.Invalid(np, s.Name, fmt.Sprintf("must have at most %d characters and match regex %s", 253, sysctlRegexp)))
		case names.Has(s.Name):
			errs = append(errs, field.Duplicate(np, s.Name))
		}
		switch ns := sysctlNamespace(s.Name); {
		case spec.HostNetwork && ns == "net":
			errs = append(errs, field.Invalid(np, s.Name, "may not be specified when 'hostNetwork' is true"))
		case spec.HostIPC && ns == "ipc":
			errs = append(errs, field.Invalid(np, s.Name, "may not be specified when 'hostIPC' is true"))
		}
		names.Insert(s.Name)
	}
	if sc.FSGroupChangePolicy != nil {
		errs = append(errs, oneOf(*sc.FSGroupChangePolicy, p.Child("fsGroupChangePolicy"), corev1.FSGroupChangeAlways, corev1.FSGroupChangeOnRootMismatch)...)
	}
	errs = append(errs, validateSeccompProfile(sc.SeccompProfile, p.Child("seccompProfile"))...)
	errs = append(errs, validateAppArmorProfile(sc.AppArmorProfile, p.Child("appArmorProfile"))...)
	if sc.SupplementalGroupsPolicy != nil {
		errs = append(errs, oneOf(*sc.SupplementalGroupsPolicy, p.Child("supplementalGroupsPolicy"), corev1.SupplementalGroupsPolicyMerge, corev1.SupplementalGroupsPolicyStrict)...)
	}
	if sc.SELinuxChangePolicy != nil {
		errs = append(errs, oneOf(*sc.SELinuxChangePolicy, p.Child("seLinuxChangePolicy"), corev1.SELinuxChangePolicyMountOption, corev1.SELinuxChangePolicyRecursive)...)
	}
	return errs
}

// validateHostUsers: a user-namespaced pod may not share other host
// namespaces (upstream's capitalised HostPID/HostIPC paths are kept).
func validateHostUsers(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	if spec.HostUsers == nil || *spec.HostUsers {
		return nil
	}
	var errs field.ErrorList
	if spec.HostNetwork {
		errs = append(errs, field.Forbidden(p.Child("hostNetwork"), "when `pod.Spec.HostUsers` is false"))
	}
	if spec.HostPID {
		errs = append(errs, field.Forbidden(p.Child("HostPID"), "when `pod.Spec.HostUsers` is false"))
	}
	if spec.HostIPC {
		errs = append(errs, field.Forbidden(p.Child("HostIPC"), "when `pod.Spec.HostUsers` is false"))
	}
	return errs
}

// validateOS checks spec.os and the fields that make no sense on it.
func validateOS(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	if spec.OS == nil {
		return nil
	}
	if spec.OS.Name == "" {
		return field.ErrorList{field.Required(p.Child("os", "name"), "cannot be empty")}
	}
	if spec.OS.Name != corev1.Linux && spec.OS.Name != corev1.Windows {
		return field.ErrorList{field.NotSupported(p.Child("os"), spec.OS.Name, []corev1.OSName{corev1.Linux, corev1.Windows})}
	}
	var errs field.ErrorList
	forbid := func(fp *field.Path, set bool, msg string) {
		if set {
			errs = append(errs, field.Forbidden(fp, msg))
		}
	}
	const notWindows = "cannot be set for a windows pod"
	sc := spec.SecurityContext
	if spec.OS.Name == corev1.Linux {
		forbid(p.Child("securityContext", "windowsOptions"), sc != nil && sc.WindowsOptions != nil, "windows options cannot be set for a linux pod")
	} else {
		scp := p.Child("securityContext")
		if sc != nil {
			forbid(scp.Child("appArmorProfile"), sc.AppArmorProfile != nil, notWindows)
			forbid(scp.Child("seLinuxOptions"), sc.SELinuxOptions != nil, notWindows)
			forbid(scp.Child("seccompProfile"), sc.SeccompProfile != nil, notWindows)
			forbid(scp.Child("fsGroup"), sc.FSGroup != nil, notWindows)
			forbid(scp.Child("fsGroupChangePolicy"), sc.FSGroupChangePolicy != nil, notWindows)
			forbid(scp.Child("sysctls"), len(sc.Sysctls) > 0, notWindows)
			forbid(scp.Child("runAsUser"), sc.RunAsUser != nil, notWindows)
			forbid(scp.Child("runAsGroup"), sc.RunAsGroup != nil, notWindows)
			forbid(scp.Child("supplementalGroups"), sc.SupplementalGroups != nil, notWindows)
			forbid(scp.Child("supplementalGroupsPolicy"), sc.SupplementalGroupsPolicy != nil, notWindows)
			forbid(scp.Child("seLinuxChangePolicy"), sc.SELinuxChangePolicy != nil, notWindows)
		}
		forbid(p.Child("hostUsers"), spec.HostUsers != nil, notWindows)
		forbid(p.Child("hostPID"), spec.HostPID, notWindows)
		forbid(p.Child("hostIPC"), spec.HostIPC, notWindows)
		forbid(p.Child("shareProcessNamespace"), spec.ShareProcessNamespace != nil, notWindows)
	}
	visitContainers(spec, p, func(c *corev1.Container, cp *field.Path) {
		csc := c.SecurityContext
		if csc == nil {
			return
		}
		sp := cp.Child("securityContext")
		if spec.OS.Name == corev1.Linux {
			forbid(sp.Child("windowsOptions"), csc.WindowsOptions != nil, "windows options cannot be set for a linux pod")
			return
		}
		forbid(sp.Child("appArmorProfile"), csc.AppArmorProfile != nil, notWindows)
		forbid(sp.Child("seLinuxOptions"), csc.SELinuxOptions != nil, notWindows)
		forbid(sp.Child("seccompProfile"), csc.SeccompProfile != nil, notWindows)
		forbid(sp.Child("capabilities"), csc.Capabilities != nil, notWindows)
		forbid(sp.Child("readOnlyRootFilesystem"), csc.ReadOnlyRootFilesystem != nil, notWindows)
		forbid(sp.Child("privileged"), csc.Privileged != nil, notWindows)
		forbid(sp.Child("allowPrivilegeEscalation"), csc.AllowPrivilegeEscalation != nil, notWindows)
		forbid(sp.Child("procMount"), csc.ProcMount != nil, notWindows)
		forbid(sp.Child("runAsUser"), csc.RunAsUser != nil, notWindows)
		forbid(sp.Child("runAsGroup"), csc.RunAsGroup != nil, notWindows)
	})
	return errs
}

// visitContainers walks init, regular and ephemeral containers in that order
// with their field paths.
func visitContainers(spec *corev1.PodSpec, p *field.Path, fn func(*corev1.Container, *field.Path)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i], p.Child("initContainers").Index(i))
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i], p.Child("containers").Index(i))
	}
	for i := range spec.EphemeralContainers {
		fn((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon), p.Child("ephemeralContainers").Index(i))
	}
}
