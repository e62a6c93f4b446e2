package apiserver

import (
	"context"
	"fmt"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff/internal/auth"
)

// review answers a create of a virtual resource: access reviews ask the authorizer, rules reviews list the
// user's rules, SelfSubjectReview says who the caller is. Nothing is stored; the answer comes back as 201
// with the object's status filled, as upstream.
func (s *Server) review(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource, out output, obj runtime.Object) {
	ctx := r.Context()
	caller := auth.UserFrom(ctx)
	var err error
	switch o := obj.(type) {
	case *authorizationv1.SelfSubjectAccessReview:
		if err = validateAccessSpec(res, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes, true); err == nil {
			o.Status = s.accessReview(ctx, caller, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
		}
	case *authorizationv1.SubjectAccessReview:
		err = validateAccessSpec(res, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes, o.Spec.User != "" || len(o.Spec.Groups) > 0)
		if err == nil {
			o.Status = s.accessReview(ctx, subject(o.Spec), o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
		}
	case *authorizationv1.LocalSubjectAccessReview:
		err = validateLocalReview(res, ri.Namespace, o)
		if err == nil {
			o.Status = s.accessReview(ctx, subject(o.Spec), o.Spec.ResourceAttributes, nil)
		}
	case *authorizationv1.SelfSubjectRulesReview:
		if o.Spec.Namespace == "" {
			err = apierrors.NewBadRequest("no namespace on request")
		} else {
			o.Status = s.rulesReview(caller, o.Spec.Namespace)
		}
	case *authenticationv1.SelfSubjectReview:
		if caller != nil {
			o.Status.UserInfo = authenticationv1.UserInfo{Username: caller.Name, UID: caller.UID, Groups: caller.Groups, Extra: extraValues(caller.Extra)}
		}
	default:
		err = apierrors.NewMethodNotSupported(res.GroupResource(), "create")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.objectFor(r, out, res, obj)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, out, resp)
}

// accessReview asks the authorizer chain whether u may do what the attributes say.
func (s *Server) accessReview(ctx context.Context, u *auth.User, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	a := auth.Attributes{User: u}
	if ra != nil {
		a.ResourceRequest, a.Verb, a.Namespace, a.APIGroup, a.APIVersion = true, ra.Verb, ra.Namespace, ra.Group, ra.Version
		a.Resource, a.Subresource, a.Name = ra.Resource, ra.Subresource, ra.Name
		a.FieldSelector = reviewFieldSelector(ra.FieldSelector)
	} else if nra != nil {
		a.Verb, a.Path = nra.Verb, nra.Path
	}
	d, reason, err := s.cfg.Authorizer.Authorize(ctx, a)
	st := authorizationv1.SubjectAccessReviewStatus{Allowed: d == auth.DecisionAllow, Denied: d == auth.DecisionDeny, Reason: reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

// reviewFieldSelector converts an access review's field selector (raw, or requirements with a single value
// for In/NotIn) to what the authorizers read; what does not convert is left out.
func reviewFieldSelector(fs *authorizationv1.FieldSelectorAttributes) fields.Requirements {
	if fs == nil {
		return nil
	}
	if fs.RawSelector != "" {
		sel, err := fields.ParseSelector(fs.RawSelector)
		if err != nil {
			return nil
		}
		return sel.Requirements()
	}
	var reqs fields.Requirements
	for _, r := range fs.Requirements {
		if len(r.Values) != 1 {
			continue
		}
		switch r.Operator {
		case metav1.FieldSelectorOpIn:
			reqs = append(reqs, fields.Requirement{Field: r.Key, Operator: selection.Equals, Value: r.Values[0]})
		case metav1.FieldSelectorOpNotIn:
			reqs = append(reqs, fields.Requirement{Field: r.Key, Operator: selection.NotEquals, Value: r.Values[0]})
		}
	}
	return reqs
}

// rulesReview lists the user's rules in namespace, as kubectl auth can-i --list shows them.
func (s *Server) rulesReview(u *auth.User, namespace string) authorizationv1.SubjectRulesReviewStatus {
	st := authorizationv1.SubjectRulesReviewStatus{ResourceRules: []authorizationv1.ResourceRule{}, NonResourceRules: []authorizationv1.NonResourceRule{}}
	if s.cfg.Rules == nil {
		st.Incomplete = true
		return st
	}
	rules, err := s.cfg.Rules(u, namespace)
	if err != nil {
		st.Incomplete, st.EvaluationError = true, err.Error()
	}
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
			continue
		}
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{Verbs: r.Verbs, APIGroups: r.APIGroups,
			Resources: r.Resources, ResourceNames: r.ResourceNames})
	}
	return st
}

// subject is the user a SubjectAccessReview asks about.
func subject(spec authorizationv1.SubjectAccessReviewSpec) *auth.User {
	u := &auth.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	if len(spec.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range spec.Extra {
			u.Extra[k] = v
		}
	}
	return u
}

func extraValues(extra map[string][]string) map[string]authenticationv1.ExtraValue {
	if len(extra) == 0 {
		return nil
	}
	out := map[string]authenticationv1.ExtraValue{}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// validateAccessSpec applies upstream's rules: exactly one of the attribute kinds, and (for SubjectAccessReview)
// a user or a group.
func validateAccessSpec(res *resource, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes, hasSubject bool) error {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	switch {
	case ra != nil && nra != nil:
		errs = append(errs, field.Invalid(spec.Child("nonResourceAttributes"), nra, "cannot be specified in combination with resourceAttributes"))
	case ra == nil && nra == nil:
		errs = append(errs, field.Invalid(spec.Child("resourceAttributes"), ra, "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	if !hasSubject {
		errs = append(errs, field.Invalid(spec.Child("user"), "", "at least one of user or group must be specified"))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(res.GVK().GroupKind(), "", errs)
	}
	return nil
}

func validateLocalReview(res *resource, namespace string, o *authorizationv1.LocalSubjectAccessReview) error {
	spec := field.NewPath("spec")
	if o.Spec.NonResourceAttributes != nil {
		return apierrors.NewInvalid(res.GVK().GroupKind(), "", field.ErrorList{field.Invalid(spec.Child("nonResourceAttributes"), o.Spec.NonResourceAttributes, "disallowed on this kind of request")})
	}
	if err := validateAccessSpec(res, o.Spec.ResourceAttributes, nil, o.Spec.User != "" || len(o.Spec.Groups) > 0); err != nil {
		return err
	}
	if o.Spec.ResourceAttributes.Namespace == "" {
		o.Spec.ResourceAttributes.Namespace = namespace
	}
	if o.Spec.ResourceAttributes.Namespace != namespace {
		return apierrors.NewBadRequest(fmt.Sprintf("spec.resourceAttributes.namespace must match namespace: %v", namespace))
	}
	return nil
}
