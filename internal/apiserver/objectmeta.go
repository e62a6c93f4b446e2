package apiserver

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/google/uuid"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff/internal/apiserver/defaults"
	"skiff/internal/auth"
)

// prepareCreate fills the system fields of a new object: namespace from the URL, a generated name, uid,
// creationTimestamp, generation, and a fresh status where the kind's status is not the creator's to set.
func (s *Server) prepareCreate(res *resource, obj runtime.Object, ns string) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		if acc.GetNamespace() == "" {
			acc.SetNamespace(ns)
		} else if acc.GetNamespace() != ns {
			return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		acc.SetNamespace("")
	}
	if acc.GetResourceVersion() != "" {
		return apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if acc.GetName() == "" && acc.GetGenerateName() != "" {
		acc.SetName(acc.GetGenerateName() + utilrand.String(5))
	}
	acc.SetUID(newUID())
	acc.SetCreationTimestamp(metav1.NewTime(s.cfg.Now()))
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
	if res.Status {
		acc.SetGeneration(1)
		if !res.KeepStatusOnCreate {
			resetField(obj, "Status")
		}
	} else {
		acc.SetGeneration(0)
	}
	prepareKindCreate(obj)
	return nil
}

func newUID() types.UID { return types.UID(uuid.NewString()) }

// createdFields are the system fields prepareCreate chose, set again after mutating admission.
type createdFields struct {
	uid        types.UID
	created    metav1.Time
	generation int64
}

// afterAdmitCreate undoes what mutating admission may not change on create: the namespace must still be the
// request's, the system fields are prepareCreate's, the status is reset where the creator may not set it, the
// kind's own preparation runs again and a CSR's requester is the caller.
func (s *Server) afterAdmitCreate(res *resource, obj runtime.Object, ns string, f createdFields, user *auth.User) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	switch {
	case !res.Namespaced:
		acc.SetNamespace("")
	case acc.GetNamespace() == "":
		acc.SetNamespace(ns) // as upstream: an empty namespace is the request's
	case acc.GetNamespace() != ns:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	acc.SetUID(f.uid)
	acc.SetCreationTimestamp(f.created)
	acc.SetGeneration(f.generation)
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
	acc.SetResourceVersion("")
	if res.Status && !res.KeepStatusOnCreate {
		resetField(obj, "Status")
	}
	prepareKindCreate(obj)
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
		setCSRRequester(csr, user)
	}
	return nil
}

// prepareUpdate carries the system fields over from the stored object and splits spec from status: the main
// resource cannot change status, a status update cannot change anything else. Generation moves with the spec.
func (s *Server) prepareUpdate(res *resource, obj, old runtime.Object, sub string) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	oldAcc, _ := meta.Accessor(old)
	if acc.GetUID() != "" && acc.GetUID() != oldAcc.GetUID() {
		return apierrors.NewConflict(res.GroupResource(), oldAcc.GetName(),
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", acc.GetUID(), oldAcc.GetUID()))
	}
	acc.SetNamespace(oldAcc.GetNamespace())
	acc.SetUID(oldAcc.GetUID())
	acc.SetCreationTimestamp(oldAcc.GetCreationTimestamp())
	acc.SetDeletionTimestamp(oldAcc.GetDeletionTimestamp())
	acc.SetDeletionGracePeriodSeconds(oldAcc.GetDeletionGracePeriodSeconds())
	acc.SetGeneration(oldAcc.GetGeneration())
	acc.SetSelfLink("")
	if oldAcc.GetDeletionTimestamp() != nil {
		for _, f := range acc.GetFinalizers() {
			if !slices.Contains(oldAcc.GetFinalizers(), f) {
				return apierrors.NewInvalid(res.GVK().GroupKind(), acc.GetName(), field.ErrorList{field.Forbidden(
					field.NewPath("metadata", "finalizers"), fmt.Sprintf("no new finalizers can be added if the object is being deleted, found new finalizers %q", f))})
			}
		}
	}
	switch {
	case sub == "approval" || sub == "resize" || sub == "ephemeralcontainers":
		keepOnlySubresource(obj, old, sub)
	case sub == "status":
		copyField(obj, old, "Spec")
		acc.SetLabels(oldAcc.GetLabels())
		acc.SetAnnotations(oldAcc.GetAnnotations())
		acc.SetFinalizers(oldAcc.GetFinalizers())
		acc.SetOwnerReferences(oldAcc.GetOwnerReferences())
	case res.Status && sub == "":
		copyField(obj, old, "Status")
	}
	prepareKindUpdate(obj, old, sub)
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
		prepareCSRUpdate(csr, old.(*certificatesv1.CertificateSigningRequest), sub, s.cfg.Now())
	}
	if res.Status && sub == "" && !apiequality.Semantic.DeepEqual(fieldOf(obj, "Spec"), fieldOf(old, "Spec")) {
		acc.SetGeneration(oldAcc.GetGeneration() + 1)
	}
	return nil
}

// keepOnlySubresource makes obj the stored object changed only in what the subresource owns: CSR approval
// conditions, a pod's ephemeral containers, or its containers' resources (in-place resize).
func keepOnlySubresource(obj, old runtime.Object, sub string) {
	switch o := obj.(type) {
	case *certificatesv1.CertificateSigningRequest:
		// prepareCSRUpdate (csr.go) keeps what /approval does not own.
	case *corev1.Pod:
		prev := old.(*corev1.Pod).DeepCopy()
		switch sub {
		case "ephemeralcontainers":
			prev.Spec.EphemeralContainers = o.Spec.EphemeralContainers
		case "resize":
			for i := range prev.Spec.Containers {
				for _, c := range o.Spec.Containers {
					if c.Name == prev.Spec.Containers[i].Name {
						prev.Spec.Containers[i].Resources = c.Resources
						prev.Spec.Containers[i].ResizePolicy = c.ResizePolicy
					}
				}
			}
		}
		o.Spec, o.Status = prev.Spec, prev.Status
	default:
		copyField(obj, old, "Spec")
		copyField(obj, old, "Status")
	}
}

// prepareKindCreate holds the few kind-specific create rules that are not defaults.
func prepareKindCreate(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(&o.Spec)}
	case *corev1.Namespace:
		// Deleting a namespace first empties it: the namespace controller removes this finalizer when done.
		o.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		o.Status.Phase = corev1.NamespaceActive
	case *batchv1.Job:
		defaults.JobSelector(o)
	case *corev1.PersistentVolumeClaim:
		o.Status.Phase = corev1.ClaimPending
	case *corev1.PersistentVolume:
		o.Status.Phase = corev1.VolumePending
	case *corev1.Secret:
		mergeStringData(o)
	}
}

// mergeStringData moves a secret's write-only stringData into data, as upstream does on every write.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		return
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

func prepareKindUpdate(obj, old runtime.Object, sub string) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		prev := old.(*corev1.Namespace)
		if sub == "finalize" {
			// Only spec.finalizers changes through /finalize.
			fin := o.Spec.Finalizers
			*o = *prev.DeepCopy()
			o.Spec.Finalizers = fin
			return
		}
		o.Spec.Finalizers = prev.Spec.Finalizers
		if sub == "" {
			o.Status = prev.Status
		}
	case *corev1.Pod:
		if sub == "" {
			o.Status = old.(*corev1.Pod).Status
		}
	case *corev1.Secret:
		mergeStringData(o)
	case *corev1.Service:
		keepAllocated(o, old.(*corev1.Service))
	}
}

func fieldOf(obj runtime.Object, name string) any {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName(name)
	if !f.IsValid() {
		return nil
	}
	return f.Interface()
}

func copyField(dst, src runtime.Object, name string) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	if df, sf := d.FieldByName(name), s.FieldByName(name); df.IsValid() && sf.IsValid() && df.CanSet() {
		df.Set(sf)
	}
}

func resetField(obj runtime.Object, name string) {
	if f := reflect.ValueOf(obj).Elem().FieldByName(name); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}
