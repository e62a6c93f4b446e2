package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

// maxDisruptedPods bounds a PodDisruptionBudget's disruptedPods map, as upstream.
const maxDisruptedPods = 2000

// evict serves pods/eviction as upstream: a pod that is finished, pending or already being deleted goes at
// once; otherwise the one PodDisruptionBudget selecting it must allow a disruption, which is taken from it
// (disruptionsAllowed decremented, the pod recorded in disruptedPods) in the same step that admits the
// eviction, so concurrent evictions cannot overspend it. A budget that would be broken answers 429
// TooManyRequests with a DisruptionBudget cause; more than one budget is a 500, as upstream.
func (s *Server) evict(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	body, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, _, err := s.decodeObject(r, body, policyv1.SchemeGroupVersion.WithKind("Eviction"), func() runtime.Object { return &policyv1.Eviction{} })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := obj.(*policyv1.Eviction)
	if ev.Name != "" && ev.Name != ri.Name {
		s.writeError(w, r, apierrors.NewBadRequest("name in URL does not match name in Eviction object"))
		return
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if q := r.URL.Query()["dryRun"]; len(q) > 0 && len(opts.DryRun) == 0 {
		opts.DryRun = q
	}
	dryRun := len(opts.DryRun) > 0
	// Admission sees the eviction as a create of pods/eviction, as upstream (NodeRestriction limits a node to
	// its own pods; NamespaceLifecycle refuses it in a terminating namespace).
	attrs := &admission.Attributes{Operation: admission.Create, Resource: res.GroupVersionResource, Subresource: "eviction",
		Kind: policyv1.SchemeGroupVersion.WithKind("Eviction"), Namespace: ri.Namespace, Name: ri.Name, Object: ev,
		User: auth.UserFrom(r.Context()), DryRun: dryRun}
	if err := s.cfg.Admission.Admit(r.Context(), attrs); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Admission.Validate(r.Context(), attrs); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkDisruptionBudget(r.Context(), res, ri.Namespace, ri.Name, dryRun); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !dryRun {
		// As upstream, the pod is told why it goes (DisruptionTarget, which Job pod failure policies match),
		// and the delete is pinned to that pod (its UID): the node agent may well write the pod's status in
		// between, which must not fail an eviction the budget already paid for.
		uid, err := s.markEvicted(r.Context(), res, ri.Namespace, ri.Name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if uid != "" && opts.Preconditions == nil {
			opts.Preconditions = &metav1.Preconditions{UID: &uid}
		}
	}
	if _, _, err := s.deleteObject(r.Context(), res, ri.Namespace, ri.Name, opts, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, emptyStatus(""))
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// checkDisruptionBudget admits the eviction of ns/name against its PodDisruptionBudget, taking one
// disruption from it unless dryRun.
func (s *Server) checkDisruptionBudget(ctx context.Context, podRes *resource, ns, name string, dryRun bool) error {
	obj, err := s.getObject(ctx, podRes, ns, name, "")
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed ||
		pod.Status.Phase == corev1.PodPending {
		return nil
	}
	pdbRes := s.resources[policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")]
	if pdbRes == nil {
		return nil
	}
	all, err := s.Lister(pdbRes.GroupVersionResource)(ctx)
	if err != nil {
		return err
	}
	var matching []*policyv1.PodDisruptionBudget
	for _, o := range all {
		pdb, ok := o.(*policyv1.PodDisruptionBudget)
		if !ok || pdb.Namespace != ns || pdb.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		matching = append(matching, pdb)
	}
	switch len(matching) {
	case 0:
		return nil
	case 1:
	default:
		return apierrors.NewInternalError(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
	}
	check := func(pdb *policyv1.PodDisruptionBudget) (take bool, err error) {
		if !podIsReady(pod) {
			// An unhealthy pod does not count toward the budget; it may go when the budget is healthy, or
			// always with unhealthyPodEvictionPolicy AlwaysAllow.
			if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
				return false, nil
			}
			if pdb.Status.ObservedGeneration >= pdb.Generation && pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0 {
				return false, nil
			}
		}
		if pdb.Status.ObservedGeneration < pdb.Generation {
			return false, tooManyRequests(fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name))
		}
		if pdb.Status.DisruptionsAllowed < 0 {
			return false, apierrors.NewForbidden(podRes.GroupResource(), name, fmt.Errorf("pdb disruptions allowed is negative"))
		}
		if len(pdb.Status.DisruptedPods) > maxDisruptedPods {
			return false, apierrors.NewForbidden(podRes.GroupResource(), name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
		}
		if pdb.Status.DisruptionsAllowed == 0 {
			return false, tooManyRequests(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
		}
		return true, nil
	}
	take, err := check(matching[0])
	if err != nil || !take || dryRun {
		return err
	}
	_, err = s.updateObject(ctx, pdbRes, ns, matching[0].Name, "status", writeOptions{manager: "skiff-eviction", untracked: true}, func(cur runtime.Object) (runtime.Object, error) {
		pdb := cur.(*policyv1.PodDisruptionBudget).DeepCopy()
		// Checked again on the stored budget: another eviction may have spent it meanwhile.
		if take, err := check(pdb); err != nil || !take {
			if err == nil {
				err = tooManyRequests(fmt.Sprintf("The disruption budget %s changed; retry", pdb.Name))
			}
			return nil, err
		}
		pdb.Status.DisruptionsAllowed--
		if pdb.Status.DisruptionsAllowed == 0 {
			for i := range pdb.Status.Conditions {
				if pdb.Status.Conditions[i].Type == policyv1.DisruptionAllowedCondition {
					pdb.Status.Conditions[i].Status = metav1.ConditionFalse
					pdb.Status.Conditions[i].Reason = policyv1.InsufficientPodsReason
					pdb.Status.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now())
				}
			}
		}
		if pdb.Status.DisruptedPods == nil {
			pdb.Status.DisruptedPods = map[string]metav1.Time{}
		}
		pdb.Status.DisruptedPods[pod.Name] = metav1.NewTime(time.Now())
		return pdb, nil
	})
	return err
}

// tooManyRequests is the 429 a broken budget answers, with upstream's DisruptionBudget cause.
func tooManyRequests(cause string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: cause})
	return err
}

// markEvicted sets the DisruptionTarget condition (reason EvictionByEvictionAPI) on a pod that has not
// finished, and returns the pod's UID.
func (s *Server) markEvicted(ctx context.Context, podRes *resource, ns, name string) (types.UID, error) {
	obj, err := s.getObject(ctx, podRes, ns, name, "")
	if err != nil {
		return "", err
	}
	pod := obj.(*corev1.Pod)
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil {
		return pod.UID, nil
	}
	out, err := s.updateObject(ctx, podRes, ns, name, "status", writeOptions{manager: "skiff-eviction", untracked: true}, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod).DeepCopy()
		setPodCondition(&p.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(time.Now())})
		return p, nil
	})
	if err != nil {
		return "", err
	}
	return out.(*corev1.Pod).UID, nil
}
