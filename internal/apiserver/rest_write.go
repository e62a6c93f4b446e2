package apiserver

import (
	"context"
	"fmt"
	"net/http"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff/internal/admission"
	"skiff/internal/apiserver/defaults"
	"skiff/internal/apiserver/validation"
	"skiff/internal/auth"
)

// writeOptions are the query parameters shared by create, update and patch.
type writeOptions struct {
	dryRun  bool
	manager string
	// applied means server-side apply already computed managedFields.
	applied bool
	// untracked skips managedFields, as upstream's binding subresource does (it writes storage directly).
	untracked bool
}

func parseWriteOptions(r *http.Request) (writeOptions, error) {
	q := r.URL.Query()
	o := writeOptions{manager: managerName(q.Get("fieldManager"), r.Header.Get("User-Agent"))}
	if len(q.Get("fieldManager")) > 128 {
		return o, apierrors.NewBadRequest("fieldManager: Too long: may not be more than 128 bytes")
	}
	for _, d := range q["dryRun"] {
		if d != "All" {
			return o, apierrors.NewBadRequest(fmt.Sprintf("dryRun: Unsupported value: %q: supported values: \"All\"", d))
		}
		o.dryRun = true
	}
	return o, nil
}

// validateNew runs metadata and kind validation on an object about to be created.
func validateNew(res *resource, obj runtime.Object) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	errs := metavalidation.ValidateObjectMetaAccessor(acc, res.Namespaced, metavalidation.ValidateNameFunc(validation.NameValidator(res.GVK())), field.NewPath("metadata"))
	errs = append(errs, validation.Validate(obj)...)
	if len(errs) > 0 {
		return apierrors.NewInvalid(res.GVK().GroupKind(), acc.GetName(), errs)
	}
	return nil
}

func validateUpdate(res *resource, obj, old runtime.Object, sub string) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	oldAcc, _ := meta.Accessor(old)
	errs := metavalidation.ValidateObjectMetaAccessorUpdate(acc, oldAcc, field.NewPath("metadata"))
	if sub != "binding" {
		// A binding changes spec.nodeName, which no other write may.
		errs = append(errs, validation.ValidateUpdate(obj, old)...)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(res.GVK().GroupKind(), acc.GetName(), errs)
	}
	return nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	out, err := negotiate(s.codecs, r, "Table", "PartialObjectMetadata")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	opts, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, warnings, err := s.decodeObject(r, data, res.GVK(), res.New)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ri.Name != "" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GroupResource(), "create"))
		return
	}
	if res.Virtual {
		s.review(w, r, ri, res, out, obj)
		return
	}
	created, err := s.createObject(r.Context(), res, ri.Namespace, obj, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	addWarnings(w, warnings)
	resp, err := s.objectFor(r, out, res, created)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, out, resp)
}

// createObject runs the create pipeline: system fields, defaults, admission, validation, managed fields, store.
func (s *Server) createObject(ctx context.Context, res *resource, ns string, obj runtime.Object, opts writeOptions) (runtime.Object, error) {
	if err := s.prepareCreate(res, obj, ns); err != nil {
		return nil, err
	}
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
		setCSRRequester(csr, auth.UserFrom(ctx))
	}
	defaults.Default(obj)
	acc, _ := meta.Accessor(obj)
	fields := createdFields{uid: acc.GetUID(), created: acc.GetCreationTimestamp(), generation: acc.GetGeneration()}
	attrs := &admission.Attributes{Operation: admission.Create, Resource: res.GroupVersionResource, Kind: res.GVK(),
		Namespace: acc.GetNamespace(), Name: acc.GetName(), Object: obj, User: auth.UserFrom(ctx), DryRun: opts.dryRun}
	if err := s.cfg.Admission.Admit(ctx, attrs); err != nil {
		return nil, err
	}
	// What is the server's to set is set again after mutating admission (upstream fills the system fields and
	// runs PrepareForCreate after it): a webhook or policy cannot move the object to another namespace, pick
	// its uid, set its status or a CSR's requester. The pod's QoS class follows the resources admission
	// settled (LimitRanger's defaults).
	if err := s.afterAdmitCreate(res, obj, ns, fields, auth.UserFrom(ctx)); err != nil {
		return nil, err
	}
	// Allocation comes before validation, as upstream's (a Local LoadBalancer's health-check port is
	// required by validation and allocated here).
	svc, isSvc := obj.(*corev1.Service)
	var got allocation
	if isSvc && s.svcAlloc != nil && !opts.dryRun {
		var err error
		if got, err = s.svcAlloc.allocate(ctx, svc, nil); err != nil {
			return nil, err
		}
	}
	undo := func() {
		if isSvc && s.svcAlloc != nil {
			s.svcAlloc.undo(ctx, svc, got)
		}
	}
	if err := validateNew(res, obj); err != nil {
		undo()
		return nil, err
	}
	if err := s.cfg.Admission.Validate(ctx, attrs); err != nil {
		undo()
		return nil, err
	}
	if !opts.applied {
		obj = res.smd.main.UpdateNoErrors(res.New(), obj, opts.manager)
	}
	if opts.dryRun {
		return obj, nil
	}
	stored, err := res.in(obj, nil)
	if err != nil {
		undo()
		attrs.Failed(ctx)
		return nil, err
	}
	created, err := res.store.Create(ctx, res.store.Key(acc.GetNamespace(), acc.GetName()), acc.GetName(), stored)
	if err != nil {
		undo()
		attrs.Failed(ctx) // e.g. a quota charge for a name that was taken
		return nil, err
	}
	return res.out(created)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource, sub string) {
	out, err := negotiate(s.codecs, r, "Table", "PartialObjectMetadata")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	opts, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, warnings, err := s.decodeObject(r, data, res.GVK(), res.New)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	acc, _ := meta.Accessor(obj)
	if acc.GetName() != ri.Name {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), ri.Name)))
		return
	}
	if res.Namespaced && acc.GetNamespace() != "" && acc.GetNamespace() != ri.Namespace {
		s.writeError(w, r, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	updated, err := s.updateObject(r.Context(), res, ri.Namespace, ri.Name, sub, opts, func(cur runtime.Object) (runtime.Object, error) {
		curAcc, _ := meta.Accessor(cur)
		if rv := acc.GetResourceVersion(); rv != "" && rv != curAcc.GetResourceVersion() {
			return nil, conflict(res, ri.Name)
		}
		return obj.DeepCopyObject(), nil
	})
	code := http.StatusOK
	if apierrors.IsNotFound(err) && res.CreateOnUpdate && sub == "" && acc.GetResourceVersion() == "" {
		updated, err = s.createObject(r.Context(), res, ri.Namespace, obj, opts)
		code = http.StatusCreated
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	addWarnings(w, warnings)
	resp, err := s.objectFor(r, out, res, updated)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, code, out, resp)
}

func conflict(res *resource, name string) error {
	return apierrors.NewConflict(res.GroupResource(), name,
		fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
}

// updateObject runs the update pipeline inside an optimistic-concurrency loop. next computes the wanted object
// from the current one (decoded body, or the current object patched); it may return a Conflict.
func (s *Server) updateObject(ctx context.Context, res *resource, ns, name, sub string, opts writeOptions,
	next func(cur runtime.Object) (runtime.Object, error)) (runtime.Object, error) {
	return s.updateObjectWith(ctx, res, ns, name, sub, opts, next, nil)
}

// applyFunc, when given, replaces the managed-fields update with server-side apply's merge.
type applyFunc func(cur runtime.Object) (runtime.Object, error)

func (s *Server) updateObjectWith(ctx context.Context, res *resource, ns, name, sub string, opts writeOptions,
	next func(cur runtime.Object) (runtime.Object, error), apply applyFunc) (runtime.Object, error) {
	key := res.store.Key(ns, name)
	var dryRunResult runtime.Object
	cached := res.cachedCopy(ctx, key)
	// Service allocations taken by attempts of this update, and the Service as it was before the last one.
	var svcGot allocation
	var svcNew, svcOld *corev1.Service
	// admitted are the attempts admission let through, to undo what it did for those not stored.
	var admitted []*admission.Attributes
	out, deleted, err := res.store.GuaranteedUpdate(ctx, key, name, func(stored runtime.Object) (runtime.Object, bool, error) {
		cur, err := res.out(stored)
		if err != nil {
			return nil, false, err
		}
		var obj runtime.Object
		if apply != nil {
			obj, err = apply(cur)
		} else {
			obj, err = next(cur)
		}
		if err != nil {
			return nil, false, err
		}
		if err := s.prepareUpdate(res, obj, cur, sub); err != nil {
			return nil, false, err
		}
		defaults.Default(obj)
		acc, _ := meta.Accessor(obj)
		attrs := &admission.Attributes{Operation: admission.Update, Resource: res.GroupVersionResource, Subresource: sub,
			Kind: res.GVK(), Namespace: ns, Name: name, Object: obj, OldObject: cur, User: auth.UserFrom(ctx), DryRun: opts.dryRun}
		if err := s.cfg.Admission.Admit(ctx, attrs); err != nil {
			return nil, false, err
		}
		// Again after mutating admission, as upstream's PrepareForUpdate runs after it: a mutator cannot change
		// the system fields, the status through the main resource, or what a subresource does not own.
		if err := s.prepareUpdate(res, obj, cur, sub); err != nil {
			return nil, false, err
		}
		if svc, ok := obj.(*corev1.Service); ok && s.svcAlloc != nil && sub == "" && !opts.dryRun {
			// Before validation, as on create. What an attempt takes is kept in svcGot: undone if the update
			// fails, and what a later attempt did not keep is undone when it succeeds.
			got, err := s.svcAlloc.allocate(ctx, svc, cur.(*corev1.Service))
			if err != nil {
				return nil, false, err
			}
			svcGot.ips, svcGot.ports = append(svcGot.ips, got.ips...), append(svcGot.ports, got.ports...)
			svcNew, svcOld = svc, cur.(*corev1.Service)
		}
		if err := validateUpdate(res, obj, cur, sub); err != nil {
			return nil, false, err
		}
		if err := s.cfg.Admission.Validate(ctx, attrs); err != nil {
			return nil, false, err
		}
		admitted = append(admitted, attrs)
		if apply == nil && !opts.untracked {
			obj = res.smd.forSub(sub).UpdateNoErrors(cur, obj, opts.manager)
		}
		acc, _ = meta.Accessor(obj)
		acc.SetResourceVersion("")
		del := shouldDeleteDuringUpdate(obj, cur)
		if opts.dryRun {
			dryRunResult = obj
			return nil, false, nil // write nothing
		}
		next, err := res.in(obj, stored)
		return next, del, err
	}, cached)
	// What admission did for attempts that were not stored (a quota charge) is undone: every attempt's when
	// the update failed, else all but the last.
	for i, a := range admitted {
		if err != nil || i < len(admitted)-1 {
			a.Failed(ctx)
		}
	}
	if svcNew != nil {
		if err != nil {
			s.svcAlloc.undo(ctx, svcNew, svcGot)
		} else {
			// What the Service let go of (type change, ports removed) is free again, and so is what an earlier
			// attempt took that the final one does not hold.
			s.svcAlloc.undo(ctx, svcOld, released(svcNew, svcOld))
			s.svcAlloc.undo(ctx, svcNew, minus(svcGot, svcNew))
		}
	}
	if err != nil {
		return nil, err
	}
	if opts.dryRun {
		return dryRunResult, nil
	}
	served, err := res.out(out)
	if err == nil && deleted {
		// The last finalizer went: the object is gone, and with it a Service's allocations.
		s.releaseService(ctx, served)
	}
	return served, err
}

// shouldDeleteDuringUpdate: an object being deleted goes away when its last finalizer is removed.
func shouldDeleteDuringUpdate(obj, old runtime.Object) bool {
	acc, _ := meta.Accessor(obj)
	oldAcc, _ := meta.Accessor(old)
	if acc.GetDeletionTimestamp() == nil || len(acc.GetFinalizers()) > 0 || len(oldAcc.GetFinalizers()) == 0 {
		return false
	}
	if g := acc.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
		return false
	}
	return !hasSpecFinalizers(obj)
}

func emptyStatus(msg string) *metav1.Status {
	return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Message: msg}
}
