package podsecurity

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The restricted level's own checks.

// restrictedVolumes: only the volume types that carry no host access.
func restrictedVolumes(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var bad []string
	types := set{}
	for _, v := range spec.Volumes {
		s := v.VolumeSource
		if s.ConfigMap != nil || s.CSI != nil || s.DownwardAPI != nil || s.EmptyDir != nil || s.Ephemeral != nil ||
			s.PersistentVolumeClaim != nil || s.Projected != nil || s.Secret != nil || s.Image != nil {
			continue
		}
		bad = append(bad, v.Name)
		types[volumeType(&s)] = true
	}
	if len(bad) == 0 {
		return nil
	}
	return &Violation{"restricted volume types", fmt.Sprintf("%s %s %s %s %s", plural("volume", "volumes", len(bad)), joinQuote(bad),
		plural("uses", "use", len(bad)), plural("restricted volume type", "restricted volume types", len(types)), joinQuote(types.list()))}
}

func volumeType(s *corev1.VolumeSource) string {
	switch {
	case s.HostPath != nil:
		return "hostPath"
	case s.GCEPersistentDisk != nil:
		return "gcePersistentDisk"
	case s.AWSElasticBlockStore != nil:
		return "awsElasticBlockStore"
	case s.GitRepo != nil:
		return "gitRepo"
	case s.NFS != nil:
		return "nfs"
	case s.ISCSI != nil:
		return "iscsi"
	case s.Glusterfs != nil:
		return "glusterfs"
	case s.RBD != nil:
		return "rbd"
	case s.FlexVolume != nil:
		return "flexVolume"
	case s.Cinder != nil:
		return "cinder"
	case s.CephFS != nil:
		return "cephfs"
	case s.Flocker != nil:
		return "flocker"
	case s.FC != nil:
		return "fc"
	case s.AzureFile != nil:
		return "azureFile"
	case s.VsphereVolume != nil:
		return "vsphereVolume"
	case s.Quobyte != nil:
		return "quobyte"
	case s.AzureDisk != nil:
		return "azureDisk"
	case s.PhotonPersistentDisk != nil:
		return "photonPersistentDisk"
	case s.PortworxVolume != nil:
		return "portworxVolume"
	case s.ScaleIO != nil:
		return "scaleIO"
	case s.StorageOS != nil:
		return "storageos"
	}
	return "unknown"
}

// allowPrivilegeEscalation must be explicitly false (Windows pods are exempt from v1.25).
func allowPrivilegeEscalation(v Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	if v.atLeast(1, 25) && isWindows(spec) {
		return nil
	}
	var bad []string
	visit(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{"allowPrivilegeEscalation != false", containers(bad) + " must set securityContext.allowPrivilegeEscalation=false"}
}

// runAsNonRoot must be true, on the pod or on every container.
func runAsNonRoot(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var setters []string
	podNonRoot := false
	if sc := spec.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		if *sc.RunAsNonRoot {
			podNonRoot = true
		} else {
			setters = append(setters, "pod")
		}
	}
	var explicit, implicit []string
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
			if !*sc.RunAsNonRoot {
				explicit = append(explicit, c.Name)
			}
		} else if !podNonRoot {
			implicit = append(implicit, c.Name)
		}
	})
	if len(explicit) > 0 {
		setters = append(setters, containers(explicit))
	}
	if len(setters) > 0 {
		return &Violation{"runAsNonRoot != true", strings.Join(setters, " and ") + " must not set securityContext.runAsNonRoot=false"}
	}
	if len(implicit) > 0 {
		return &Violation{"runAsNonRoot != true", "pod or " + containers(implicit) + " must set securityContext.runAsNonRoot=true"}
	}
	return nil
}

// runAsUser must not be 0 (v1.23+).
func runAsUser(_ Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	var setters, bad []string
	if sc := spec.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		setters = append(setters, "pod")
	}
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) > 0 {
		setters = append(setters, containers(bad))
	}
	if len(setters) == 0 {
		return nil
	}
	return &Violation{"runAsUser=0", strings.Join(setters, " and ") + " must not set runAsUser=0"}
}

// seccompRestricted: RuntimeDefault or Localhost, on the pod or on every container (Windows pods exempt from v1.25).
func seccompRestricted(v Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	if v.atLeast(1, 25) && isWindows(spec) {
		return nil
	}
	valid := func(t corev1.SeccompProfileType) bool {
		return t == corev1.SeccompProfileTypeRuntimeDefault || t == corev1.SeccompProfileTypeLocalhost
	}
	var setters []string
	values := set{}
	podSet := false
	if sc := spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		if valid(sc.SeccompProfile.Type) {
			podSet = true
		} else {
			setters = append(setters, "pod")
			values[string(sc.SeccompProfile.Type)] = true
		}
	}
	var explicit, implicit []string
	visit(spec, func(c *corev1.Container) {
		if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			if !valid(sc.SeccompProfile.Type) {
				explicit = append(explicit, c.Name)
				values[string(sc.SeccompProfile.Type)] = true
			}
		} else if !podSet {
			implicit = append(implicit, c.Name)
		}
	})
	if len(explicit) > 0 {
		setters = append(setters, containers(explicit))
	}
	if len(setters) > 0 {
		return &Violation{"seccompProfile", fmt.Sprintf("%s must not set securityContext.seccompProfile.type to %s", strings.Join(setters, " and "), joinQuote(values.list()))}
	}
	if len(implicit) > 0 {
		return &Violation{"seccompProfile", "pod or " + containers(implicit) + ` must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`}
	}
	return nil
}

// capabilitiesRestricted: drop ALL, add at most NET_BIND_SERVICE (v1.22+; Windows pods exempt from v1.25).
func capabilitiesRestricted(v Version, _ *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation {
	if v.atLeast(1, 25) && isWindows(spec) {
		return nil
	}
	var missingDrop, adding []string
	caps := set{}
	visit(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			missingDrop = append(missingDrop, c.Name)
			return
		}
		if !slices.Contains(c.SecurityContext.Capabilities.Drop, "ALL") {
			missingDrop = append(missingDrop, c.Name)
		}
		found := false
		for _, cp := range c.SecurityContext.Capabilities.Add {
			if cp != "NET_BIND_SERVICE" {
				found = true
				caps[string(cp)] = true
			}
		}
		if found {
			adding = append(adding, c.Name)
		}
	})
	var details []string
	if len(missingDrop) > 0 {
		details = append(details, containers(missingDrop)+` must set securityContext.capabilities.drop=["ALL"]`)
	}
	if len(adding) > 0 {
		details = append(details, fmt.Sprintf("%s must not include %s in securityContext.capabilities.add", containers(adding), joinQuote(caps.list())))
	}
	if len(details) == 0 {
		return nil
	}
	return &Violation{"unrestricted capabilities", strings.Join(details, "; ")}
}
