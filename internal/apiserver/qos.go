package apiserver

import (
	corev1 "k8s.io/api/core/v1"
)

// qosClass computes a pod's quality of service class as upstream does: Guaranteed when every container sets
// equal CPU and memory requests and limits, BestEffort when none sets any, Burstable otherwise.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	any, guaranteed := false, true
	check := func(c corev1.Container) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if hasReq || hasLim {
				any = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	for _, c := range spec.InitContainers {
		check(c)
	}
	for _, c := range spec.Containers {
		check(c)
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
