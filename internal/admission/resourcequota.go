package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/quota"
)

// QuotaLister lists a namespace's ResourceQuotas (a cached read; the objects must not be changed).
type QuotaLister func(ctx context.Context, namespace string) ([]*corev1.ResourceQuota, error)

// QuotaStatusUpdater applies fn to the stored quota and writes the result, compare-and-swap on its
// resourceVersion, calling fn again on the current copy until the write wins. An error from fn stops it and is
// returned; ErrQuotaUnchanged from fn writes nothing.
type QuotaStatusUpdater func(ctx context.Context, namespace, name string, fn func(*corev1.ResourceQuota) error) error

// ErrQuotaUnchanged tells a QuotaStatusUpdater there is nothing to write.
var ErrQuotaUnchanged = errors.New("quota unchanged")

// ResourceQuota is upstream's plugin of that name. A create (or an update of a Service or claim that changes
// its usage) is measured (package quota), checked against every ResourceQuota of the namespace that covers it,
// and charged to their status.used in the same compare-and-swap that checks it, so concurrent writes cannot
// together go over a quota. Refusals are 403s with upstream's messages:
//
//	exceeded quota: <name>, requested: cpu=1, used: cpu=1500m, limited: cpu=2
//	failed quota: <name>: must specify limits.cpu for: <containers>
//	status unknown for quota: <name>, resources: <names>   (the controller has not counted yet)
//
// The charge is made before the object is stored; when the write fails after all (the name is taken, a
// concurrent update won) the server calls Attributes.Failed and the charge is given back. Should that be
// lost (a crash), the resourcequota controller's recount puts it right.
type ResourceQuota struct {
	List         QuotaLister
	UpdateStatus QuotaStatusUpdater
	// Now is the clock for pods stuck terminating; nil means time.Now.
	Now func() time.Time
}

// quotaUpdatable are the resources whose usage an update can change (a Service's type or ports, a claim's size).
var quotaUpdatable = map[schema.GroupResource]bool{{Resource: "services"}: true, {Resource: "persistentvolumeclaims"}: true}

// computeNames are the resources every container must set when a quota limits them (upstream keeps this for
// compatibility: it predates QoS classes).
var computeNames = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceRequestsCPU,
	corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory}

// Validate implements Validator.
func (r ResourceQuota) Validate(ctx context.Context, a *Attributes) error {
	gr := a.Resource.GroupResource()
	if a.Subresource != "" || a.Namespace == "" || a.Object == nil {
		return nil
	}
	if a.Operation != Create && (a.Operation != Update || !quotaUpdatable[gr]) {
		return nil
	}
	quotas, err := r.List(ctx, a.Namespace)
	if err != nil || len(quotas) == 0 {
		return err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	forbidden := func(err error) error { return apierrors.NewForbidden(gr, a.Name, err) }

	var matching []*corev1.ResourceQuota
	for _, q := range quotas {
		if !quota.Matches(q, gr, a.Object) {
			continue
		}
		limited := quota.Limited(q, gr)
		if pod, ok := a.Object.(*corev1.Pod); ok {
			if err := podConstraints(pod, limited); err != nil {
				return forbidden(fmt.Errorf("failed quota: %s: %w", q.Name, err))
			}
		}
		var unknown []corev1.ResourceName
		for _, n := range limited {
			if _, ok := q.Status.Used[n]; !ok {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			return forbidden(fmt.Errorf("status unknown for quota: %s, resources: %s", q.Name, quota.NamesString(unknown)))
		}
		matching = append(matching, q)
	}
	if len(matching) == 0 {
		return nil
	}
	delta := quota.Usage(gr, a.Object, now())
	if neg := quota.Negative(delta); len(neg) > 0 {
		return forbidden(fmt.Errorf("quota usage is negative for resource(s): %s", quota.NamesString(neg)))
	}
	if a.Operation == Update && a.OldObject != nil {
		delta = quota.Subtract(delta, quota.Usage(gr, a.OldObject, now()))
	}
	delta = quota.RemoveZeros(delta)
	if len(delta) == 0 {
		return nil
	}

	// Charge each quota in turn; if one refuses, give back what the earlier ones took.
	var charged []chargedQuota
	for _, q := range matching {
		requested := quota.Mask(delta, quota.Names(q.Status.Hard))
		if len(requested) == 0 {
			continue
		}
		if a.DryRun {
			if err := checkQuota(q, requested); err != nil {
				return forbidden(err)
			}
			continue
		}
		err := r.UpdateStatus(ctx, q.Namespace, q.Name, func(cur *corev1.ResourceQuota) error {
			req := quota.Mask(delta, quota.Names(cur.Status.Hard))
			if len(req) == 0 {
				requested = nil
				return ErrQuotaUnchanged
			}
			if err := checkQuota(cur, req); err != nil {
				return err
			}
			cur.Status.Used = quota.Add(cur.Status.Used, req)
			requested = req
			return nil
		})
		if apierrors.IsNotFound(err) {
			continue // deleted meanwhile: it limits nothing any more
		}
		if err != nil {
			r.refund(ctx, charged)
			var qe quotaError
			if errors.As(err, &qe) {
				return forbidden(err)
			}
			return apierrors.NewInternalError(fmt.Errorf("charging quota %s: %w", q.Name, err))
		}
		if len(requested) > 0 {
			charged = append(charged, chargedQuota{q.Namespace, q.Name, requested})
		}
	}
	if len(charged) > 0 {
		a.OnFailure(func(ctx context.Context) { r.refund(ctx, charged) })
	}
	return nil
}

type chargedQuota struct {
	namespace, name string
	amount          corev1.ResourceList
}

// refund gives back a charge already made by this request, best effort (the controller recounts anyway).
func (r ResourceQuota) refund(ctx context.Context, charged []chargedQuota) {
	for _, c := range charged {
		err := r.UpdateStatus(ctx, c.namespace, c.name, func(cur *corev1.ResourceQuota) error {
			used := quota.Subtract(cur.Status.Used, c.amount)
			for k, v := range used {
				if v.Sign() < 0 {
					v.Set(0)
					used[k] = v
				}
				if _, ok := cur.Status.Used[k]; !ok {
					delete(used, k)
				}
			}
			cur.Status.Used = used
			return nil
		})
		if err != nil && !apierrors.IsNotFound(err) {
			slog.Warn("quota refund", "quota", c.namespace+"/"+c.name, "err", err)
		}
	}
}

// quotaError is a refusal (as opposed to a failure to read or write the quota).
type quotaError struct{ msg string }

func (e quotaError) Error() string { return e.msg }

// checkQuota refuses requested when it would take q's used over its hard limits.
func checkQuota(q *corev1.ResourceQuota, requested corev1.ResourceList) error {
	var unknown []corev1.ResourceName
	for _, n := range quota.Names(requested) {
		if _, ok := q.Status.Used[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return quotaError{fmt.Sprintf("status unknown for quota: %s, resources: %s", q.Name, quota.NamesString(unknown))}
	}
	next := quota.Mask(quota.Add(q.Status.Used, requested), quota.Names(requested))
	exceeded := quota.Exceeded(next, q.Status.Hard)
	if len(exceeded) == 0 {
		return nil
	}
	return quotaError{fmt.Sprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Name,
		quota.String(quota.Mask(requested, exceeded)), quota.String(quota.Mask(q.Status.Used, exceeded)),
		quota.String(quota.Mask(q.Status.Hard, exceeded)))}
}

// podConstraints: when a quota limits cpu or memory, every container must say what it needs of them.
func podConstraints(pod *corev1.Pod, limited []corev1.ResourceName) error {
	var required []corev1.ResourceName
	for _, n := range limited {
		if slices.Contains(computeNames, n) {
			required = append(required, n)
		}
	}
	if len(required) == 0 {
		return nil
	}
	missing := map[corev1.ResourceName][]string{}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			has := containerUsage(c.Resources)
			for _, n := range required {
				if _, ok := has[n]; !ok {
					missing[n] = append(missing[n], c.Name)
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var msgs []string
	for _, n := range required {
		if names := missing[n]; len(names) > 0 {
			slices.Sort(names)
			msgs = append(msgs, fmt.Sprintf("%s for: %s", n, strings.Join(slices.Compact(names), ",")))
		}
	}
	return errors.New("must specify " + strings.Join(msgs, "; "))
}

// containerUsage names what one container sets, as quota names it (cpu and requests.cpu, limits.cpu...).
func containerUsage(r corev1.ResourceRequirements) map[corev1.ResourceName]bool {
	out := map[corev1.ResourceName]bool{}
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := r.Requests[n]; ok {
			out[n] = true
			out[corev1.DefaultResourceRequestsPrefix+n] = true
		}
		if _, ok := r.Limits[n]; ok {
			out["limits."+n] = true
		}
	}
	return out
}
