package policy

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/admission"
	"skiff/internal/admission/celenv"
	"skiff/internal/auth"
)

// Inputs are the CEL variables of one request, computed once and shared by every policy and binding.
type Inputs struct {
	Object, OldObject, Request, Namespace any
	Authz                                 *celenv.Authz
	requestResource                       any
	authorizer                            any
}

// NewInputs builds object, oldObject (their JSON form with the request's kind), request (the
// AdmissionRequest fields upstream offers), namespaceObject (nil for cluster-scoped requests and
// Namespaces) and the authorizer for the requesting user.
func NewInputs(ctx context.Context, a *admission.Attributes, ns *corev1.Namespace, authz auth.Authorizer) *Inputs {
	in := &Inputs{Object: objectValue(a.Object, a), OldObject: objectValue(a.OldObject, a), Request: requestValue(a)}
	if ns != nil {
		in.Namespace = namespaceValue(ns)
	}
	in.Authz = &celenv.Authz{Ctx: ctx, Authorizer: authz, User: a.User}
	in.authorizer = celenv.AuthorizerVal(in.Authz)
	in.requestResource = celenv.RequestResourceVal(in.Authz, a.Resource.Group, a.Resource.Version, a.Resource.Resource,
		a.Subresource, a.Namespace, requestName(a))
	return in
}

// Activation is the variables for one param (nil: params is null) and the lazily evaluated spec.variables.
func (in *Inputs) Activation(params map[string]any, vars map[string]any) map[string]any {
	m := map[string]any{
		celenv.Object: in.Object, celenv.OldObject: in.OldObject, celenv.Request: in.Request,
		celenv.NamespaceObject: in.Namespace, celenv.Authorizer: in.authorizer, celenv.RequestResource: in.requestResource,
		celenv.Params: nil,
	}
	if params != nil {
		m[celenv.Params] = params
	}
	for k, v := range vars {
		m[k] = v
	}
	return m
}

func objectValue(obj runtime.Object, a *admission.Attributes) any {
	if obj == nil {
		return nil
	}
	c := obj.DeepCopyObject()
	c.GetObjectKind().SetGroupVersionKind(a.Kind)
	v, err := celenv.ToValue(c)
	if err != nil {
		return nil
	}
	return v
}

func requestValue(a *admission.Attributes) any {
	gvk := map[string]any{"group": a.Kind.Group, "version": a.Kind.Version, "kind": a.Kind.Kind}
	gvr := map[string]any{"group": a.Resource.Group, "version": a.Resource.Version, "resource": a.Resource.Resource}
	req := map[string]any{
		"kind": gvk, "resource": gvr, "subResource": a.Subresource,
		"requestKind": gvk, "requestResource": gvr, "requestSubResource": a.Subresource,
		"name": requestName(a), "namespace": a.Namespace, "operation": a.Operation, "dryRun": a.DryRun,
	}
	if u := a.User; u != nil {
		groups := make([]any, len(u.Groups))
		for i, g := range u.Groups {
			groups[i] = g
		}
		ui := map[string]any{"username": u.Name, "uid": u.UID, "groups": groups}
		if len(u.Extra) > 0 {
			extra := map[string]any{}
			for k, vs := range u.Extra {
				l := make([]any, len(vs))
				for i, v := range vs {
					l[i] = v
				}
				extra[k] = l
			}
			ui["extra"] = extra
		}
		req["userInfo"] = ui
	}
	var dry []string
	if a.DryRun {
		dry = []string{metav1.DryRunAll}
	}
	tm := func(kind string) metav1.TypeMeta { return metav1.TypeMeta{Kind: kind, APIVersion: "meta.k8s.io/v1"} }
	var opts any
	switch a.Operation {
	case admission.Create:
		opts = &metav1.CreateOptions{TypeMeta: tm("CreateOptions"), DryRun: dry}
	case admission.Update:
		opts = &metav1.UpdateOptions{TypeMeta: tm("UpdateOptions"), DryRun: dry}
	case admission.Delete:
		opts = &metav1.DeleteOptions{TypeMeta: tm("DeleteOptions"), DryRun: dry}
	}
	if opts != nil {
		if v, err := celenv.ToValue(opts); err == nil {
			req["options"] = v
		}
	}
	return req
}

// namespaceValue is namespaceObject as upstream exposes it: metadata (without managedFields), spec, status.
func namespaceValue(ns *corev1.Namespace) any {
	c := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: ns.Name, GenerateName: ns.GenerateName, Labels: ns.Labels, Annotations: ns.Annotations,
			UID: ns.UID, CreationTimestamp: ns.CreationTimestamp, DeletionTimestamp: ns.DeletionTimestamp,
			DeletionGracePeriodSeconds: ns.DeletionGracePeriodSeconds, OwnerReferences: ns.OwnerReferences, ResourceVersion: ns.ResourceVersion},
		Spec: ns.Spec, Status: ns.Status,
	}
	v, err := celenv.ToValue(c)
	if err != nil {
		return nil
	}
	return v
}
