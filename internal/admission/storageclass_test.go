package admission

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestDefaultStorageClass(t *testing.T) {
	now := time.Now()
	class := func(name string, age time.Duration, annotation string) runtime.Object {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))}}
		if annotation != "" {
			sc.Annotations = map[string]string{annotation: "true"}
		}
		return sc
	}
	admit := func(classes []runtime.Object, pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
		t.Helper()
		d := DefaultStorageClass{List: func(context.Context) ([]runtime.Object, error) { return classes, nil }}
		a := &Attributes{Operation: Create, Resource: corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), Object: pvc}
		if err := d.Admit(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		return pvc
	}
	name := func(p *corev1.PersistentVolumeClaim) string {
		if p.Spec.StorageClassName == nil {
			return "<nil>"
		}
		return *p.Spec.StorageClassName
	}
	classes := []runtime.Object{class("slow", time.Hour, ""), class("old-default", 2*time.Hour, IsDefaultStorageClassAnnotation),
		class("new-default", time.Minute, BetaIsDefaultStorageClassAnnotation)}
	if got := name(admit(classes, &corev1.PersistentVolumeClaim{})); got != "new-default" {
		t.Errorf("classless claim got %s, want the newest default", got)
	}
	empty := ""
	if got := name(admit(classes, &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &empty}})); got != "" {
		t.Errorf(`explicit "" got %s`, got)
	}
	beta := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{betaStorageClassAnnotation: "slow"}}}
	if got := name(admit(classes, beta)); got != "<nil>" {
		t.Errorf("beta-annotated claim got %s", got)
	}
	if got := name(admit(classes[:1], &corev1.PersistentVolumeClaim{})); got != "<nil>" {
		t.Errorf("no default: got %s", got)
	}
	tie := []runtime.Object{class("b", time.Hour, IsDefaultStorageClassAnnotation), class("a", time.Hour, IsDefaultStorageClassAnnotation)}
	if got := name(admit(tie, &corev1.PersistentVolumeClaim{})); got != "a" {
		t.Errorf("tie: got %s, want the first name", got)
	}
}
