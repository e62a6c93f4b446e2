package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"skiff/internal/quota"
)

// LimitRangerAnnotation records the defaults LimitRanger set on a pod.
const LimitRangerAnnotation = "kubernetes.io/limit-ranger"

// LimitRangeLister lists a namespace's LimitRanges.
type LimitRangeLister func(ctx context.Context, namespace string) ([]*corev1.LimitRange, error)

// LimitRanger is upstream's plugin of that name, for pods and PersistentVolumeClaims. Admit gives each
// container of a new pod the default limits and requests of the namespace's Container limit items (default,
// defaultRequest) for the resources it does not set, and records what it set in the kubernetes.io/limit-ranger
// annotation. Validate refuses (403) a pod whose containers or whole pod fall outside min, max or
// maxLimitRequestRatio, and a claim outside its min/max, with upstream's messages.
//
// Pod updates are left alone, as upstream: containers' resources cannot change through an update.
type LimitRanger struct {
	List LimitRangeLister
}

func (l LimitRanger) ranges(ctx context.Context, a *Attributes) ([]*corev1.LimitRange, bool, error) {
	if a.Subresource != "" || a.Resource.Group != "" || a.Namespace == "" {
		return nil, false, nil
	}
	switch {
	case a.Resource.Resource == "pods" && a.Operation == Create:
	case a.Resource.Resource == "persistentvolumeclaims" && (a.Operation == Create || a.Operation == Update):
	default:
		return nil, false, nil
	}
	if a.OldObject != nil {
		// Objects being deleted are left alone.
		if old, err := meta.Accessor(a.OldObject); err == nil && old.GetDeletionTimestamp() != nil {
			return nil, false, nil
		}
	}
	items, err := l.List(ctx, a.Namespace)
	if err != nil {
		return nil, false, apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("unable to %s %s at this time because there was an error enforcing limit ranges", strings.ToLower(a.Operation), a.Resource.Resource))
	}
	return items, len(items) > 0, nil
}

// Admit implements Mutator: defaults for pods.
func (l LimitRanger) Admit(ctx context.Context, a *Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	items, any, err := l.ranges(ctx, a)
	if err != nil || !any {
		return err
	}
	for _, lr := range items {
		defaultPodResources(pod, lr)
	}
	return nil
}

// Validate implements Validator: min, max and ratios.
func (l LimitRanger) Validate(ctx context.Context, a *Attributes) error {
	items, any, err := l.ranges(ctx, a)
	if err != nil || !any {
		return err
	}
	for _, lr := range items {
		var errs []error
		switch o := a.Object.(type) {
		case *corev1.Pod:
			errs = validatePodLimits(lr, o)
		case *corev1.PersistentVolumeClaim:
			errs = validateClaimLimits(lr, o)
		}
		if len(errs) > 0 {
			return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, utilerrors.NewAggregate(errs))
		}
	}
	return nil
}

// defaultPodResources merges the Container items' defaults into every container, as upstream.
func defaultPodResources(pod *corev1.Pod, lr *corev1.LimitRange) {
	def := corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Requests: corev1.ResourceList{}}
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range item.DefaultRequest {
			def.Requests[k] = v.DeepCopy()
		}
		for k, v := range item.Default {
			def.Limits[k] = v.DeepCopy()
		}
	}
	var notes []string
	for i := range pod.Spec.Containers {
		notes = mergeContainerDefaults(&pod.Spec.Containers[i], def, "container", notes)
	}
	for i := range pod.Spec.InitContainers {
		notes = mergeContainerDefaults(&pod.Spec.InitContainers[i], def, "init container", notes)
	}
	if len(notes) == 0 {
		return
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[LimitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
}

func mergeContainerDefaults(c *corev1.Container, def corev1.ResourceRequirements, kind string, notes []string) []string {
	set := func(dst *corev1.ResourceList, from corev1.ResourceList) []string {
		var names []string
		for k, v := range from {
			if _, ok := (*dst)[k]; ok {
				continue
			}
			if *dst == nil {
				*dst = corev1.ResourceList{}
			}
			(*dst)[k] = v.DeepCopy()
			names = append(names, string(k))
		}
		slices.Sort(names)
		return names
	}
	limits := set(&c.Resources.Limits, def.Limits)
	// Defaulting, which ran before admission, copies a limit to a missing request; a limit set here gets the
	// same treatment when the LimitRange has no default request for it.
	for _, k := range limits {
		if _, ok := c.Resources.Requests[corev1.ResourceName(k)]; !ok {
			if _, willDefault := def.Requests[corev1.ResourceName(k)]; !willDefault {
				if c.Resources.Requests == nil {
					c.Resources.Requests = corev1.ResourceList{}
				}
				c.Resources.Requests[corev1.ResourceName(k)] = def.Limits[corev1.ResourceName(k)].DeepCopy()
			}
		}
	}
	requests := set(&c.Resources.Requests, def.Requests)
	if len(requests) > 0 {
		notes = append(notes, strings.Join(requests, ", ")+" request for "+kind+" "+c.Name)
	}
	if len(limits) > 0 {
		notes = append(notes, strings.Join(limits, ", ")+" limit for "+kind+" "+c.Name)
	}
	return notes
}

func validatePodLimits(lr *corev1.LimitRange, pod *corev1.Pod) []error {
	var errs []error
	check := func(item corev1.LimitRangeItem, requests, limits corev1.ResourceList) {
		kind := string(item.Type)
		for _, k := range quota.Names(item.Min) {
			if err := minConstraint(kind, k, item.Min[k], requests, limits); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range quota.Names(item.Max) {
			if err := maxConstraint(kind, k, item.Max[k], requests, limits); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range quota.Names(item.MaxLimitRequestRatio) {
			if err := ratioConstraint(kind, k, item.MaxLimitRequestRatio[k], requests, limits); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, item := range lr.Spec.Limits {
		switch item.Type {
		case corev1.LimitTypeContainer:
			for _, c := range pod.Spec.Containers {
				check(item, c.Resources.Requests, c.Resources.Limits)
			}
			for _, c := range pod.Spec.InitContainers {
				check(item, c.Resources.Requests, c.Resources.Limits)
			}
		case corev1.LimitTypePod:
			check(item, quota.PodRequests(pod), quota.PodLimits(pod))
		}
	}
	return errs
}

func validateClaimLimits(lr *corev1.LimitRange, pvc *corev1.PersistentVolumeClaim) []error {
	var errs []error
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypePersistentVolumeClaim {
			continue
		}
		kind := string(item.Type)
		for _, k := range quota.Names(item.Min) {
			// A claim's limits are not the user's ask: only its request is held to the minimum.
			if err := minConstraint(kind, k, item.Min[k], pvc.Spec.Resources.Requests, nil); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range quota.Names(item.Max) {
			if err := maxRequestConstraint(kind, k, item.Max[k], pvc.Spec.Resources.Requests); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// values compares in milli-units when nothing overflows, else in units, as upstream.
func values(req, lim, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := values(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, kind, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := values(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, kind, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	}
	return nil
}

func maxRequestConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests corev1.ResourceList) error {
	req, hasReq := requests[name]
	r, _, e := values(req, resource.Quantity{}, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, kind, enforced.String())
	case r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, _ := values(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, kind, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, kind, enforced.String())
	}
	observed := float64(l) / float64(r)
	shown, max := observed, float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed, max = observed*1000, float64(enforced.MilliValue())
	}
	if observed > max {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, kind, enforced.String(), shown)
	}
	return nil
}
