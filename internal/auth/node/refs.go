package node

import corev1 "k8s.io/api/core/v1"

// Ref is an object a pod refers to, in the pod's namespace.
type Ref struct {
	Kind Kind
	Name string
}

// PodRefs lists the secrets, config maps, claims and service account a pod refers to, as upstream's graph:
// volumes (projected sources and the volume plugins that name a secret), env and envFrom of every container,
// image pull secrets, generic ephemeral volumes' claims and the service account. Duplicates may appear.
func PodRefs(pod *corev1.Pod) []Ref {
	var out []Ref
	add := func(k Kind, name string) {
		if name != "" {
			out = append(out, Ref{k, name})
		}
	}
	add(ServiceAccount, pod.Spec.ServiceAccountName)
	for _, s := range pod.Spec.ImagePullSecrets {
		add(Secret, s.Name)
	}
	visit := func(env []corev1.EnvVar, from []corev1.EnvFromSource) {
		for _, e := range from {
			if e.SecretRef != nil {
				add(Secret, e.SecretRef.Name)
			}
			if e.ConfigMapRef != nil {
				add(ConfigMap, e.ConfigMapRef.Name)
			}
		}
		for _, e := range env {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.SecretKeyRef != nil {
				add(Secret, e.ValueFrom.SecretKeyRef.Name)
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				add(ConfigMap, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		visit(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.Containers {
		visit(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		visit(c.Env, c.EnvFrom)
	}
	for _, v := range pod.Spec.Volumes {
		volumeRefs(pod, &v, add)
	}
	return out
}

func volumeRefs(pod *corev1.Pod, v *corev1.Volume, add func(Kind, string)) {
	ref := func(r *corev1.LocalObjectReference) {
		if r != nil {
			add(Secret, r.Name)
		}
	}
	s := &v.VolumeSource
	switch {
	case s.Secret != nil:
		add(Secret, s.Secret.SecretName)
	case s.ConfigMap != nil:
		add(ConfigMap, s.ConfigMap.Name)
	case s.PersistentVolumeClaim != nil:
		add(PVC, s.PersistentVolumeClaim.ClaimName)
	case s.Ephemeral != nil:
		// A generic ephemeral volume's claim is named <pod>-<volume>.
		add(PVC, pod.Name+"-"+v.Name)
	case s.Projected != nil:
		for _, p := range s.Projected.Sources {
			if p.Secret != nil {
				add(Secret, p.Secret.Name)
			}
			if p.ConfigMap != nil {
				add(ConfigMap, p.ConfigMap.Name)
			}
		}
	case s.AzureFile != nil:
		add(Secret, s.AzureFile.SecretName)
	case s.CephFS != nil:
		ref(s.CephFS.SecretRef)
	case s.Cinder != nil:
		ref(s.Cinder.SecretRef)
	case s.FlexVolume != nil:
		ref(s.FlexVolume.SecretRef)
	case s.ISCSI != nil:
		ref(s.ISCSI.SecretRef)
	case s.RBD != nil:
		ref(s.RBD.SecretRef)
	case s.ScaleIO != nil:
		ref(s.ScaleIO.SecretRef)
	case s.StorageOS != nil:
		if s.StorageOS.SecretRef != nil {
			add(Secret, s.StorageOS.SecretRef.Name)
		}
	case s.CSI != nil:
		ref(s.CSI.NodePublishSecretRef)
	}
}
