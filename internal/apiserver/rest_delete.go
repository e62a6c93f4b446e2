package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

// parseDeleteOptions reads DeleteOptions from the body (if any) and the query, as upstream accepts both.
func (s *Server) parseDeleteOptions(w http.ResponseWriter, r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	data, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 {
		gvk := schema.GroupVersionKind{Version: "v1", Kind: "DeleteOptions"}
		obj, _, err := s.decodeObject(r, data, gvk, func() runtime.Object { return &metav1.DeleteOptions{} })
		if err != nil {
			return nil, err
		}
		opts = obj.(*metav1.DeleteOptions)
	} else if err := metav1.ParameterCodec.DecodeParameters(r.URL.Query(), metav1.SchemeGroupVersion, opts); err != nil {
		// As upstream, the query is read only when there is no body: its conversion resets absent fields.
		return nil, apierrors.NewBadRequest(err.Error())
	}
	for _, d := range opts.DryRun {
		if d != metav1.DryRunAll {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("dryRun: Unsupported value: %q: supported values: \"All\"", d))
		}
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q", *opts.PropagationPolicy))
		}
		if opts.OrphanDependents != nil {
			return nil, apierrors.NewBadRequest("orphanDependents and propagationPolicy cannot both be set")
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		opts.GracePeriodSeconds = new(int64(1))
	}
	return opts, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	out, err := negotiate(s.codecs, r, "Table", "PartialObjectMetadata")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	opts, err := s.parseDeleteOptions(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, _, err := s.deleteObject(r.Context(), res, ri.Namespace, ri.Name, opts, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.objectFor(r, out, res, obj)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Upstream answers 200 whether the object is gone or only marked (finalizers, graceful pod deletion).
	s.writeObject(w, r, http.StatusOK, out, resp)
}

// deleteObject deletes, or when finalizers or a grace period hold the object back, marks it deleted. gone says
// whether it left storage.
// admit runs the DELETE admission chain; evictions (admitted as CREATE pods/eviction, as upstream) and the
// server's own deletes of its allocation records do not.
func (s *Server) deleteObject(ctx context.Context, res *resource, ns, name string, opts *metav1.DeleteOptions, admit bool) (runtime.Object, bool, error) {
	dryRun := len(opts.DryRun) > 0
	var dryResult runtime.Object
	key := res.store.Key(ns, name)
	now := s.cfg.Now()
	cached := res.cachedCopy(ctx, key)
	out, gone, err := res.store.GuaranteedUpdate(ctx, key, name, func(cur runtime.Object) (runtime.Object, bool, error) {
		acc, _ := meta.Accessor(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != acc.GetUID() {
				return nil, false, apierrors.NewConflict(res.GroupResource(), name,
					fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, acc.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
				return nil, false, apierrors.NewConflict(res.GroupResource(), name,
					fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, acc.GetResourceVersion()))
			}
		}
		attrs := &admission.Attributes{Operation: admission.Delete, Resource: res.GroupVersionResource, Kind: res.GVK(),
			Namespace: ns, Name: name, OldObject: cur, User: auth.UserFrom(ctx), DryRun: dryRun}
		// Both phases, as upstream: mutating webhooks and policies see deletes too (with no object to change).
		if admit {
			if err := s.cfg.Admission.Admit(ctx, attrs); err != nil {
				return nil, false, err
			}
			if err := s.cfg.Admission.Validate(ctx, attrs); err != nil {
				return nil, false, err
			}
		}
		next := cur.DeepCopyObject()
		nacc, _ := meta.Accessor(next)
		nacc.SetResourceVersion("")
		changed := addPropagationFinalizer(nacc, opts)
		grace := gracePeriod(cur, opts)
		if old := acc.GetDeletionGracePeriodSeconds(); old != nil && acc.GetDeletionTimestamp() != nil && *old <= grace {
			grace = *old
		}
		if grace > 0 || len(nacc.GetFinalizers()) > 0 || hasSpecFinalizers(next) {
			if acc.GetDeletionTimestamp() == nil || grace < derefInt(acc.GetDeletionGracePeriodSeconds()) {
				ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
				nacc.SetDeletionTimestamp(&ts)
				nacc.SetDeletionGracePeriodSeconds(&grace)
				changed = true
			}
			if grace == 0 && len(nacc.GetFinalizers()) == 0 && !hasSpecFinalizers(next) {
				// A graceful deletion that has run out (a kubelet confirming with grace 0) removes the object.
				return s.finishDelete(cur, dryRun, &dryResult)
			}
			markTerminating(next)
			if dryRun {
				dryResult = next
				return nil, false, nil // write nothing
			}
			if !changed {
				return nil, false, nil
			}
			return next, false, nil
		}
		return s.finishDelete(cur, dryRun, &dryResult)
	}, cached)
	if err != nil {
		return nil, false, err
	}
	if dryRun {
		acc, _ := meta.Accessor(dryResult)
		out, err := res.out(dryResult)
		return out, acc.GetDeletionTimestamp() == nil, err
	}
	out, err = res.out(out)
	if err == nil && gone {
		s.releaseService(ctx, out)
	}
	return out, gone, err
}

// releaseService frees a deleted Service's ClusterIP and NodePorts.
func (s *Server) releaseService(ctx context.Context, obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok && s.svcAlloc != nil {
		s.svcAlloc.undo(ctx, svc, released(nil, svc))
	}
}

func (s *Server) finishDelete(cur runtime.Object, dryRun bool, dryResult *runtime.Object) (runtime.Object, bool, error) {
	if dryRun {
		*dryResult = cur
		return nil, false, nil // write nothing
	}
	return nil, true, nil
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// gracePeriod is how long a deleted object lingers: only pods bound to a node get one (their kubelet must stop
// the containers first), from the options or the pod's terminationGracePeriodSeconds.
func gracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		return *opts.GracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// addPropagationFinalizer records the propagation policy for the garbage collector, as upstream does with the
// orphan and foregroundDeletion finalizers.
func addPropagationFinalizer(acc metav1.Object, opts *metav1.DeleteOptions) bool {
	var f string
	switch {
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationForeground:
		f = metav1.FinalizerDeleteDependents
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan,
		opts.OrphanDependents != nil && *opts.OrphanDependents:
		f = metav1.FinalizerOrphanDependents
	default:
		return false
	}
	if slices.Contains(acc.GetFinalizers(), f) {
		return false
	}
	acc.SetFinalizers(append(acc.GetFinalizers(), f))
	return true
}

// hasSpecFinalizers reports namespace spec.finalizers, which hold a namespace until its content is gone.
func hasSpecFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

func markTerminating(obj runtime.Object) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
}

func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	p, err := parseListParams(r, res, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opts, err := s.parseDeleteOptions(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, _, err := res.cache.List(r.Context(), res.keyPrefix(ri.Namespace, p), res.storedPred(p.predicate()), 0, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, it := range items {
		acc, _ := meta.Accessor(it)
		if _, _, err := s.deleteObject(r.Context(), res, acc.GetNamespace(), acc.GetName(), opts, true); err != nil && !apierrors.IsNotFound(err) {
			s.writeError(w, r, err)
			return
		}
	}
	s.writeJSON(w, r, http.StatusOK, emptyStatus(""))
}
