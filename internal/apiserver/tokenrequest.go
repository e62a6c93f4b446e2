package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/admission"
	"skiff/internal/auth"
	"skiff/internal/auth/serviceaccount"
)

// TokenRequest limits, as upstream's validation.
const (
	minTokenExpiration     = 10 * time.Minute
	maxTokenExpirationSecs = 1 << 32
	defaultTokenExpiration = int64(3600)
)

// createToken serves serviceaccounts/<name>/token: a TokenRequest (authentication.k8s.io/v1) answered with
// a signed, bound token. The ServiceAccount and the bound object are read from etcd (not the watch cache):
// a kubelet asks for a pod's token right after the pod appears.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	issuer := s.cfg.ServiceAccountTokens
	if issuer == nil {
		s.writeError(w, r, apierrors.NewGenericServerResponse(http.StatusNotImplemented, "create", res.GroupResource(), ri.Name,
			"service account token issuing is not configured", 0, false))
		return
	}
	body, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	gvk := authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
	obj, _, err := s.decodeObject(r, body, gvk, func() runtime.Object { return &authenticationv1.TokenRequest{} })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req := obj.(*authenticationv1.TokenRequest)
	if req.Name != "" && req.Name != ri.Name {
		s.writeError(w, r, apierrors.NewBadRequest("name in URL does not match name in TokenRequest body"))
		return
	}
	if req.Namespace != "" && req.Namespace != ri.Namespace {
		s.writeError(w, r, apierrors.NewBadRequest("namespace in URL does not match namespace in TokenRequest body"))
		return
	}
	// Admission sees the request as a create of serviceaccounts/token, as upstream (NodeRestriction requires a
	// node's token to be bound to a pod on it).
	attrs := &admission.Attributes{Operation: admission.Create, Resource: res.GroupVersionResource, Subresource: "token",
		Kind: gvk, Namespace: ri.Namespace, Name: ri.Name, Object: req, User: auth.UserFrom(r.Context())}
	if err := s.cfg.Admission.Admit(r.Context(), attrs); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Admission.Validate(r.Context(), attrs); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Spec.ExpirationSeconds == nil {
		req.Spec.ExpirationSeconds = new(defaultTokenExpiration)
	}
	if exp := *req.Spec.ExpirationSeconds; exp < int64(minTokenExpiration/time.Second) {
		s.writeError(w, r, apierrors.NewInvalid(gvk.GroupKind(), ri.Name, fieldErr("spec.expirationSeconds", exp, "may not specify a duration less than 10 minutes")))
		return
	} else if exp > maxTokenExpirationSecs {
		s.writeError(w, r, apierrors.NewInvalid(gvk.GroupKind(), ri.Name, fieldErr("spec.expirationSeconds", exp, "may not specify a duration larger than 2^32 seconds")))
		return
	}
	saObj, err := s.getObject(r.Context(), res, ri.Namespace, ri.Name, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sa := saObj.(*corev1.ServiceAccount)
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = append([]string(nil), issuer.APIAudiences...)
	}
	var bound serviceaccount.Binding
	if ref := req.Spec.BoundObjectRef; ref != nil {
		if bound, err = s.boundObject(r.Context(), ri.Namespace, sa.Name, ref); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if max := int64(issuer.MaxExpiration / time.Second); max > 0 && *req.Spec.ExpirationSeconds > max {
		admission.AddWarning(r.Context(), fmt.Sprintf("requested expiration of %d seconds shortened to %d seconds", *req.Spec.ExpirationSeconds, max))
		req.Spec.ExpirationSeconds = &max
	}
	tok, exp, err := issuer.Issue(serviceaccount.Request{Namespace: sa.Namespace, Name: sa.Name, UID: string(sa.UID),
		Audiences: req.Spec.Audiences, Expiration: time.Duration(*req.Spec.ExpirationSeconds) * time.Second, Bound: bound})
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	out := req.DeepCopy()
	out.TypeMeta.APIVersion, out.TypeMeta.Kind = gvk.GroupVersion().String(), gvk.Kind
	out.Name, out.Namespace, out.CreationTimestamp = sa.Name, sa.Namespace, s.metaNow()
	out.Status.Token = tok
	out.Status.ExpirationTimestamp.Time = exp
	s.writeJSON(w, r, http.StatusCreated, out)
}

// boundObject checks the object a token is to be bound to (a Pod, Secret or Node of v1) and returns its
// identity; a UID in the reference must match the object's, as upstream.
func (s *Server) boundObject(ctx context.Context, ns, saName string, ref *authenticationv1.BoundObjectReference) (serviceaccount.Binding, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.Group != "" {
		return serviceaccount.Binding{}, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gv.WithKind(ref.Kind)))
	}
	b := serviceaccount.Binding{Kind: ref.Kind, Name: ref.Name}
	var uid types.UID
	switch ref.Kind {
	case "Pod":
		obj, err := s.getObject(ctx, s.resources[corev1.SchemeGroupVersion.WithResource("pods")], ns, ref.Name, "")
		if err != nil {
			return b, err
		}
		pod := obj.(*corev1.Pod)
		if pod.Spec.ServiceAccountName != saName {
			return b, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", saName))
		}
		uid = pod.UID
		// As upstream, a pod's token also names its node (informational: the token does not die with it).
		if pod.Spec.NodeName != "" {
			b.NodeName = pod.Spec.NodeName
			if n, err := s.getObject(ctx, s.resources[corev1.SchemeGroupVersion.WithResource("nodes")], "", pod.Spec.NodeName, ""); err == nil {
				b.NodeUID = string(n.(*corev1.Node).UID)
			}
		}
	case "Secret":
		obj, err := s.getObject(ctx, s.resources[corev1.SchemeGroupVersion.WithResource("secrets")], ns, ref.Name, "")
		if err != nil {
			return b, err
		}
		uid = obj.(*corev1.Secret).UID
	case "Node":
		obj, err := s.getObject(ctx, s.resources[corev1.SchemeGroupVersion.WithResource("nodes")], "", ref.Name, "")
		if err != nil {
			return b, err
		}
		uid = obj.(*corev1.Node).UID
	default:
		return b, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gv.WithKind(ref.Kind)))
	}
	if ref.UID != "" && ref.UID != uid {
		return b, apierrors.NewConflict(schema.GroupResource{Resource: ref.Kind}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	b.UID = string(uid)
	return b, nil
}

// TokenGetter reads what service account tokens depend on for the token authenticator: the watch cache
// first (a deleted pod disappears from it within moments, so its tokens die), etcd when the cache does not
// have the object (it may be a moment behind a create). The objects are shared and must not be modified.
func (s *Server) TokenGetter() serviceaccount.Getter { return tokenGetter{s} }

type tokenGetter struct{ s *Server }

func (g tokenGetter) get(ctx context.Context, resource, ns, name string) (runtime.Object, error) {
	res := g.s.resources[corev1.SchemeGroupVersion.WithResource(resource)]
	key := res.store.Key(ns, name)
	if obj, _, err := res.cache.Get(ctx, key); err == nil && obj != nil {
		return obj, nil
	}
	return res.store.Get(ctx, key, name)
}

func (g tokenGetter) ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	obj, err := g.get(ctx, "serviceaccounts", ns, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.ServiceAccount), nil
}

func (g tokenGetter) Pod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	obj, err := g.get(ctx, "pods", ns, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

func (g tokenGetter) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	obj, err := g.get(ctx, "secrets", ns, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Secret), nil
}

func (g tokenGetter) Node(ctx context.Context, name string) (*corev1.Node, error) {
	obj, err := g.get(ctx, "nodes", "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Node), nil
}
