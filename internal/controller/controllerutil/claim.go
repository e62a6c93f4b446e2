package controllerutil

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// AdoptPatch is the strategic merge patch that makes owner (of kind gvk) the controller of the object with
// uid. extra, when not empty, is more metadata JSON put before "uid" and must end with a comma.
func AdoptPatch(gvk schema.GroupVersionKind, owner metav1.Object, uid types.UID, extra string) []byte {
	return fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],%s"uid":%q}}`,
		gvk.GroupVersion().String(), gvk.Kind, owner.GetName(), owner.GetUID(), extra, uid)
}

// ReleasePatch is the strategic merge patch that removes the owner reference with ownerUID from the object
// with uid. extra is as for AdoptPatch.
func ReleasePatch(ownerUID, uid types.UID, extra string) []byte {
	return fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],%s"uid":%q}}`, ownerUID, extra, uid)
}

// Claim describes how an owner claims its dependents of type T (pods, ReplicaSets, ControllerRevisions), as
// upstream's controller ref manager.
type Claim[T metav1.Object] struct {
	// Owner claims; while it is being deleted it keeps what it owns and adopts nothing.
	Owner metav1.Object
	// Matches: the dependent is the owner's by its selector (and whatever else the controller requires).
	Matches func(T) bool
	// CanAdopt checks, at most once per Claim call and before the first adoption, that the owner may adopt
	// (see FreshOwner). When it says no, Run stops and returns what it has claimed so far.
	CanAdopt func(context.Context) (bool, error)
	// Patch sends a strategic merge patch to the dependent and returns it patched.
	Patch func(ctx context.Context, obj T, patch []byte) (T, error)
	// AdoptPatch makes the owner the dependent's controller.
	AdoptPatch func(T) []byte
	// ReleasePatch drops the owner's reference; nil: owned dependents are never released.
	ReleasePatch func(T) []byte
	// ReleaseDeleting: release dependents that no longer match even when they are being deleted (otherwise
	// those are left alone and not counted).
	ReleaseDeleting bool
	// IgnoreInvalid: a patch answered Invalid skips the dependent, like NotFound (otherwise an error).
	IgnoreInvalid bool
}

func (c Claim[T]) ignorable(err error) bool {
	return apierrors.IsNotFound(err) || (c.IgnoreInvalid && apierrors.IsInvalid(err))
}

// Run adopts the orphans among objs the owner matches and releases owned ones it no longer matches; it
// returns the dependents the owner controls afterwards, in the order of objs.
func (c Claim[T]) Run(ctx context.Context, objs []T) ([]T, error) {
	var owned []T
	checked := false
	ownerDeleting := c.Owner.GetDeletionTimestamp() != nil
	for _, o := range objs {
		ref := metav1.GetControllerOf(o)
		matches := c.Matches(o)
		switch {
		case ref != nil && ref.UID == c.Owner.GetUID():
			if matches || ownerDeleting || c.ReleasePatch == nil {
				owned = append(owned, o)
				continue
			}
			if o.GetDeletionTimestamp() != nil && !c.ReleaseDeleting {
				continue
			}
			if _, err := c.Patch(ctx, o, c.ReleasePatch(o)); err != nil && !c.ignorable(err) {
				return nil, err
			}
		case ref == nil && matches && o.GetDeletionTimestamp() == nil && !ownerDeleting:
			if !checked {
				ok, err := c.CanAdopt(ctx)
				if err != nil {
					return nil, err
				}
				if !ok {
					return owned, nil
				}
				checked = true
			}
			adopted, err := c.Patch(ctx, o, c.AdoptPatch(o))
			if err != nil {
				if c.ignorable(err) {
					continue
				}
				return nil, err
			}
			owned = append(owned, adopted)
		}
	}
	return owned, nil
}

// FreshOwner is a Claim's CanAdopt: it GETs the owner from the API (not a cache) and allows adoption when it
// is still the object we know (same UID) and not being deleted. With notFoundRefuses an owner that is gone
// refuses adoption; otherwise NotFound is returned as an error.
func FreshOwner[T metav1.Object](owner metav1.Object, get func(ctx context.Context, name string, opts metav1.GetOptions) (T, error), notFoundRefuses bool) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		fresh, err := get(ctx, owner.GetName(), metav1.GetOptions{})
		if notFoundRefuses && apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return fresh.GetUID() == owner.GetUID() && fresh.GetDeletionTimestamp() == nil, nil
	}
}

// PodPatcher is a Claim's Patch for pods: a strategic merge patch through client.
func PodPatcher(client kubernetes.Interface) func(ctx context.Context, p *corev1.Pod, patch []byte) (*corev1.Pod, error) {
	return func(ctx context.Context, p *corev1.Pod, patch []byte) (*corev1.Pod, error) {
		return client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	}
}
