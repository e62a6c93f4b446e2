package admission

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
)

// Names and values of the token volume, as upstream's ServiceAccount admission plugin writes them.
const (
	DefaultServiceAccountName  = "default"
	ServiceAccountVolumePrefix = "kube-api-access-"
	ServiceAccountMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	// tokenExpirationSeconds is upstream's 3607: a little over an hour, so a token's lifetime tells a
	// kubelet-projected token from a requested one.
	tokenExpirationSeconds = int64(3607)
	rootCAConfigMap        = "kube-root-ca.crt"
	mirrorPodAnnotation    = "kubernetes.io/config.mirror"
)

// ServiceAccountGetter reads a ServiceAccount (NotFound when it does not exist).
type ServiceAccountGetter func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)

// ServiceAccount is upstream's admission plugin of that name, on pod creation: the pod runs as
// "default" unless it names a ServiceAccount, which must exist; it gets the ServiceAccount's
// imagePullSecrets when it has none; and unless automountServiceAccountToken is false (on the pod, else on
// the ServiceAccount) every container mounts a projected kube-api-access-<random> volume at
// /var/run/secrets/kubernetes.io/serviceaccount: a bound token (token), the cluster CA (ca.crt, from the
// kube-root-ca.crt ConfigMap) and the namespace (namespace).
type ServiceAccount struct {
	Get ServiceAccountGetter
	// Retries and RetryInterval: the "default" ServiceAccount of a new namespace is made by a controller a
	// moment after the namespace, so a miss is looked up again a few times, as upstream (10 tries).
	Retries       int
	RetryInterval time.Duration
}

// Admit implements Mutator.
func (s ServiceAccount) Admit(ctx context.Context, a *Attributes) error {
	if a.Operation != Create || a.Resource.Group != "" || a.Resource.Resource != "pods" || a.Subresource != "" {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccountName
		// The deprecated field mirrors the name, as upstream's v1 conversion writes it (defaulting ran
		// before admission, and a later update must not see a spec change).
		pod.Spec.DeprecatedServiceAccount = DefaultServiceAccountName
	}
	sa, err := s.lookup(ctx, a.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name,
			fmt.Errorf("error looking up service account %s/%s: %w", a.Namespace, pod.Spec.ServiceAccountName, err))
	}
	if len(pod.Spec.ImagePullSecrets) == 0 {
		for _, ref := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: ref.Name})
		}
	}
	automount := true
	if sa.AutomountServiceAccountToken != nil {
		automount = *sa.AutomountServiceAccountToken
	}
	if pod.Spec.AutomountServiceAccountToken != nil {
		automount = *pod.Spec.AutomountServiceAccountToken
	}
	if automount {
		mountToken(pod)
	}
	return nil
}

func (s ServiceAccount) lookup(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	tries := 1
	if name == DefaultServiceAccountName {
		tries = max(s.Retries, 1)
	}
	interval := s.RetryInterval
	if interval == 0 {
		interval = time.Duration(100+rand.IntN(100)) * time.Millisecond
	}
	for i := 0; ; i++ {
		sa, err := s.Get(ctx, ns, name)
		if err == nil {
			return sa, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if i+1 >= tries {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// mountToken adds the token volume (unless one is there) and mounts it in every container that has
// nothing at the mount path, as upstream.
func mountToken(pod *corev1.Pod) {
	volName := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, ServiceAccountVolumePrefix) {
			volName = v.Name
			break
		}
	}
	hasVolume := volName != ""
	if !hasVolume {
		volName = ServiceAccountVolumePrefix + utilrand.String(5)
	}
	needed := false
	mount := func(cs []corev1.Container) {
		for i := range cs {
			taken := false
			for _, m := range cs[i].VolumeMounts {
				if m.MountPath == ServiceAccountMountPath {
					taken = true
					break
				}
			}
			if !taken {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{Name: volName, ReadOnly: true, MountPath: ServiceAccountMountPath})
				needed = true
			}
		}
	}
	mount(pod.Spec.InitContainers)
	mount(pod.Spec.Containers)
	if hasVolume || !needed {
		return
	}
	exp, mode := tokenExpirationSeconds, int32(0o644)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: volName, VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{DefaultMode: &mode, Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}},
	}})
}
