package admission

import (
	"context"
	"log/slog"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// Annotations marking the default StorageClass (the beta one is still honoured, as upstream).
const (
	IsDefaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	BetaIsDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
	// betaStorageClassAnnotation is the claim's class before spec.storageClassName existed.
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
)

// StorageClassLister returns every StorageClass.
type StorageClassLister func(ctx context.Context) ([]runtime.Object, error)

// DefaultStorageClass is upstream's DefaultStorageClass plugin: a PersistentVolumeClaim created without a class
// (no spec.storageClassName, no beta annotation) gets the default StorageClass's name. With several defaults the
// newest wins (ties: the first name), as upstream since 1.26; with none the claim is left classless.
type DefaultStorageClass struct {
	List StorageClassLister
}

// Admit implements Mutator.
func (d DefaultStorageClass) Admit(ctx context.Context, a *Attributes) error {
	if a.Operation != Create || a.Resource.Group != "" || a.Resource.Resource != "persistentvolumeclaims" || a.Subresource != "" {
		return nil
	}
	pvc, ok := a.Object.(*corev1.PersistentVolumeClaim)
	if !ok || pvc.Spec.StorageClassName != nil {
		return nil
	}
	if _, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
		return nil
	}
	objs, err := d.List(ctx)
	if err != nil {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, err)
	}
	if def := DefaultClass(objs); def != nil {
		name := def.Name
		pvc.Spec.StorageClassName = &name
	}
	return nil
}

// DefaultClass is the default StorageClass among objs (nil: none is marked default).
func DefaultClass(objs []runtime.Object) *storagev1.StorageClass {
	var defaults []*storagev1.StorageClass
	for _, o := range objs {
		sc, ok := o.(*storagev1.StorageClass)
		if ok && (sc.Annotations[IsDefaultStorageClassAnnotation] == "true" || sc.Annotations[BetaIsDefaultStorageClassAnnotation] == "true") {
			defaults = append(defaults, sc)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	sort.Slice(defaults, func(i, j int) bool {
		ti, tj := defaults[i].CreationTimestamp.UnixNano(), defaults[j].CreationTimestamp.UnixNano()
		if ti == tj {
			return defaults[i].Name < defaults[j].Name
		}
		return ti > tj
	})
	if len(defaults) > 1 {
		slog.Debug("several default StorageClasses; the newest is used", "count", len(defaults), "class", defaults[0].Name)
	}
	return defaults[0]
}
