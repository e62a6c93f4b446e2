package admission

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func saPlugin(sas ...*corev1.ServiceAccount) ServiceAccount {
	return ServiceAccount{Retries: 2, RetryInterval: 1, Get: func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
		for _, sa := range sas {
			if sa.Namespace == ns && sa.Name == name {
				return sa, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
	}}
}

func podAttrs(pod *corev1.Pod) *Attributes {
	return &Attributes{Operation: Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Namespace: "ns", Name: pod.Name, Object: pod}
}

func TestServiceAccountAdmission(t *testing.T) {
	no := false
	def := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}
	quiet := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "quiet"}, AutomountServiceAccountToken: &no}
	p := saPlugin(def, quiet)

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i"}},
		Containers:     []corev1.Container{{Name: "a"}, {Name: "b", VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: ServiceAccountMountPath}}}}}}
	if err := p.Admit(context.Background(), podAttrs(pod)); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "default" || pod.Spec.DeprecatedServiceAccount != "default" || len(pod.Spec.ImagePullSecrets) != 1 {
		t.Fatalf("spec %+v", pod.Spec)
	}
	if len(pod.Spec.Volumes) != 1 || !strings.HasPrefix(pod.Spec.Volumes[0].Name, "kube-api-access-") || len(pod.Spec.Volumes[0].Name) != len("kube-api-access-")+5 {
		t.Fatalf("volumes %+v", pod.Spec.Volumes)
	}
	src := pod.Spec.Volumes[0].Projected.Sources
	if len(src) != 3 || *src[0].ServiceAccountToken.ExpirationSeconds != 3607 || src[1].ConfigMap.Name != "kube-root-ca.crt" || src[2].DownwardAPI.Items[0].Path != "namespace" {
		t.Fatalf("sources %+v", src)
	}
	name := pod.Spec.Volumes[0].Name
	if m := pod.Spec.InitContainers[0].VolumeMounts; len(m) != 1 || m[0].Name != name || !m[0].ReadOnly {
		t.Fatalf("init mounts %+v", m)
	}
	if m := pod.Spec.Containers[0].VolumeMounts; len(m) != 1 || m[0].MountPath != ServiceAccountMountPath {
		t.Fatalf("mounts %+v", m)
	}
	if m := pod.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "own" {
		t.Fatalf("a container's own mount at the path is kept: %+v", m)
	}

	// No automount: on the ServiceAccount, or on the pod.
	for _, pod := range []*corev1.Pod{
		{Spec: corev1.PodSpec{ServiceAccountName: "quiet", Containers: []corev1.Container{{Name: "a"}}}},
		{Spec: corev1.PodSpec{AutomountServiceAccountToken: &no, Containers: []corev1.Container{{Name: "a"}}}},
	} {
		if err := p.Admit(context.Background(), podAttrs(pod)); err != nil || len(pod.Spec.Volumes) != 0 {
			t.Fatalf("err %v volumes %+v", err, pod.Spec.Volumes)
		}
	}

	// A missing ServiceAccount: refused with upstream's message.
	err := p.Admit(context.Background(), podAttrs(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.PodSpec{ServiceAccountName: "nope"}}))
	if !apierrors.IsForbidden(err) || err.Error() != `pods "x" is forbidden: error looking up service account ns/nope: serviceaccount "nope" not found` {
		t.Fatalf("err %v", err)
	}
}
