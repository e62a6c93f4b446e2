package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	"skiff/internal/admission"
	"skiff/internal/apiserver/defaults"
)

// callError is a failure to get an answer from a webhook; failurePolicy decides what it means.
type callError struct {
	name   string
	reason error
}

func (e *callError) Error() string {
	return fmt.Sprintf("failed calling webhook %q: %v", e.name, e.reason)
}

// dispatch calls one matching webhook and applies its answer: failurePolicy on failure, the webhook's status
// on denial, its warnings, and (mutating) its JSONPatch. changed says whether the patch changed the object.
func (p *Plugin) dispatch(ctx context.Context, h *hook, a *admission.Attributes) (changed bool, err error) {
	err = p.dispatchInto(ctx, h, a, &changed)
	return changed, err
}

func (p *Plugin) dispatchInto(ctx context.Context, h *hook, a *admission.Attributes, changed *bool) error {
	if a.DryRun && (h.SideEffects == nil || (*h.SideEffects != admissionregv1.SideEffectClassNone &&
		*h.SideEffects != admissionregv1.SideEffectClassNoneOnDryRun)) {
		// As upstream: a dry-run request reaching a webhook that may have side effects is refused.
		return apierrors.NewBadRequest(fmt.Sprintf("admission webhook %q does not support dry run", h.Name))
	}
	resp, err := p.call(ctx, h, a)
	if err != nil {
		var ce *callError
		if !errors.As(err, &ce) {
			return err
		}
		if h.FailurePolicy != nil && *h.FailurePolicy == admissionregv1.Ignore {
			slog.Warn("admission webhook failed; ignored (failurePolicy Ignore)", "webhook", h.Name, "err", err)
			return nil
		}
		return apierrors.NewInternalError(err)
	}
	for _, w := range resp.Warnings {
		admission.AddWarning(ctx, w)
	}
	if !resp.Allowed {
		return denied(h.Name, resp.Result)
	}
	if h.mutating && len(resp.Patch) > 0 && a.Object == nil {
		// Nothing to patch (a delete, or CONNECT without an options object): a non-empty patch is refused, as
		// upstream.
		if ops, err := jsonpatch.DecodePatch(resp.Patch); err != nil || len(ops) > 0 {
			return apierrors.NewInternalError(fmt.Errorf("admission webhook %q attempted to modify the object, which is not supported for this operation", h.Name))
		}
	}
	if h.mutating && len(resp.Patch) > 0 && a.Object != nil {
		if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
			err := &callError{h.Name, fmt.Errorf("received invalid webhook response: unsupported patch type %v", resp.PatchType)}
			return apierrors.NewInternalError(err)
		}
		c, err := applyPatch(a, resp.Patch)
		if err != nil {
			return apierrors.NewInternalError(&callError{h.Name, err})
		}
		*changed = c
	}
	return nil
}

// denied is upstream's status for a refusal: the webhook's own status, code at least 400, message prefixed.
func denied(name string, st *metav1.Status) error {
	out := metav1.Status{Status: metav1.StatusFailure}
	if st != nil {
		out = *st
	}
	if out.Code < http.StatusBadRequest {
		out.Code = http.StatusBadRequest
	}
	out.Status = metav1.StatusFailure
	by := fmt.Sprintf("admission webhook %q denied the request", name)
	switch {
	case out.Message != "":
		out.Message = by + ": " + out.Message
	case out.Reason != "":
		out.Message = by + ": " + string(out.Reason)
	default:
		out.Message = by + " without explanation"
	}
	return &apierrors.StatusError{ErrStatus: out}
}

// applyPatch applies a JSONPatch to the object in place, then defaults it again (validation follows in the
// API server), as upstream decodes the patched object with defaulting.
func applyPatch(a *admission.Attributes, patch []byte) (bool, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return false, fmt.Errorf("received invalid webhook response: %w", err)
	}
	gvk := a.Object.GetObjectKind().GroupVersionKind()
	cur, err := objectJSON(a.Object, a)
	if err != nil {
		return false, err
	}
	patched, err := p.Apply(cur)
	if err != nil {
		return false, fmt.Errorf("JSON patch failed: %w", err)
	}
	v := reflect.ValueOf(a.Object)
	if v.Kind() != reflect.Pointer {
		return false, fmt.Errorf("cannot patch %T", a.Object)
	}
	fresh := reflect.New(v.Elem().Type()).Interface().(runtime.Object)
	if err := json.Unmarshal(patched, fresh); err != nil {
		return false, fmt.Errorf("decoding the patched object: %w", err)
	}
	fresh.GetObjectKind().SetGroupVersionKind(gvk)
	v.Elem().Set(reflect.ValueOf(fresh).Elem())
	defaults.Default(a.Object)
	after, err := objectJSON(a.Object, a)
	return err == nil && !bytes.Equal(cur, after), err
}

func objectJSON(obj runtime.Object, a *admission.Attributes) ([]byte, error) {
	c := obj.DeepCopyObject()
	c.GetObjectKind().SetGroupVersionKind(a.Kind)
	return json.Marshal(c)
}

// review builds the AdmissionReview request.
func review(a *admission.Attributes, version string) (*admissionv1.AdmissionReview, error) {
	req := &admissionv1.AdmissionRequest{
		UID:         types.UID(uuid.NewUUID()),
		Kind:        metav1.GroupVersionKind{Group: a.Kind.Group, Version: a.Kind.Version, Kind: a.Kind.Kind},
		Resource:    metav1.GroupVersionResource{Group: a.Resource.Group, Version: a.Resource.Version, Resource: a.Resource.Resource},
		SubResource: a.Subresource,
		Name:        a.Name,
		Namespace:   a.Namespace,
		Operation:   admissionv1.Operation(a.Operation),
		DryRun:      &a.DryRun,
	}
	req.RequestKind, req.RequestResource, req.RequestSubResource = &req.Kind, &req.Resource, a.Subresource
	if u := a.User; u != nil {
		req.UserInfo = authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
		if len(u.Extra) > 0 {
			req.UserInfo.Extra = map[string]authenticationv1.ExtraValue{}
			for k, v := range u.Extra {
				req.UserInfo.Extra[k] = v
			}
		}
	}
	var err error
	if a.Object != nil {
		if req.Object.Raw, err = objectJSON(a.Object, a); err != nil {
			return nil, err
		}
	}
	if a.OldObject != nil {
		if req.OldObject.Raw, err = objectJSON(a.OldObject, a); err != nil {
			return nil, err
		}
	}
	var dry []string
	if a.DryRun {
		dry = []string{metav1.DryRunAll}
	}
	var opts any
	tm := func(kind string) metav1.TypeMeta { return metav1.TypeMeta{Kind: kind, APIVersion: "meta.k8s.io/v1"} }
	switch a.Operation {
	case admission.Create:
		opts = &metav1.CreateOptions{TypeMeta: tm("CreateOptions"), DryRun: dry}
	case admission.Update:
		opts = &metav1.UpdateOptions{TypeMeta: tm("UpdateOptions"), DryRun: dry}
	case admission.Delete:
		opts = &metav1.DeleteOptions{TypeMeta: tm("DeleteOptions"), DryRun: dry}
	}
	if opts != nil {
		if req.Options.Raw, err = json.Marshal(opts); err != nil {
			return nil, err
		}
	}
	return &admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/" + version, Kind: "AdmissionReview"}, Request: req}, nil
}

// call sends the review and checks the response's shape. Failures to get a usable answer are callErrors.
func (p *Plugin) call(ctx context.Context, h *hook, a *admission.Attributes) (*admissionv1.AdmissionResponse, error) {
	version := ""
	for _, v := range h.AdmissionReviewVersions {
		if v == "v1" || v == "v1beta1" {
			version = v
			break
		}
	}
	if version == "" {
		return nil, &callError{h.Name, fmt.Errorf("webhook does not accept v1 or v1beta1 AdmissionReview")}
	}
	rev, err := review(a, version)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	body, err := json.Marshal(rev)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	timeout := 10 * time.Second
	if t := h.TimeoutSeconds; t != nil && *t > 0 {
		timeout = time.Duration(min(*t, 30)) * time.Second
	}
	u, dial, serverName, err := p.target(h)
	if err != nil {
		return nil, &callError{h.Name, fmt.Errorf("failed to call webhook: %w", err)}
	}
	q := u.Query()
	q.Set("timeout", timeout.String())
	u.RawQuery = q.Encode()
	tr, err := p.transport(h.ClientConfig.CABundle, serverName, dial)
	if err != nil {
		return nil, &callError{h.Name, fmt.Errorf("failed to call webhook: %w", err)}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(cctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &callError{h.Name, fmt.Errorf("failed to call webhook: %w", err)}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	res, err := (&http.Client{Transport: tr}).Do(hreq)
	if err != nil {
		return nil, &callError{h.Name, fmt.Errorf("failed to call webhook: %w", err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 3<<20))
	if err != nil {
		return nil, &callError{h.Name, fmt.Errorf("failed to call webhook: %w", err)}
	}
	if res.StatusCode != http.StatusOK {
		return nil, &callError{h.Name, fmt.Errorf("failed to call webhook: the server responded with the status code %d but did not return more information", res.StatusCode)}
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, &callError{h.Name, fmt.Errorf("received invalid webhook response: %w", err)}
	}
	if out.APIVersion != rev.APIVersion || out.Kind != "AdmissionReview" {
		return nil, &callError{h.Name, fmt.Errorf("received invalid webhook response: expected webhook response of %s, Kind=AdmissionReview, got %s, Kind=%s", rev.APIVersion, out.APIVersion, out.Kind)}
	}
	if out.Response == nil {
		return nil, &callError{h.Name, fmt.Errorf("received invalid webhook response: webhook response was absent")}
	}
	if out.Response.UID != rev.Request.UID {
		return nil, &callError{h.Name, fmt.Errorf("received invalid webhook response: expected response.uid=%q, got %q", rev.Request.UID, out.Response.UID)}
	}
	return out.Response, nil
}

// target is where to send the review: clientConfig.url as is, or a service reference resolved to a ready
// endpoint of the Service (upstream's endpoint routing), with the TLS server name <service>.<namespace>.svc.
func (p *Plugin) target(h *hook) (u *url.URL, dial, serverName string, err error) {
	cc := h.ClientConfig
	if cc.URL != nil {
		u, err := url.Parse(*cc.URL)
		if err != nil {
			return nil, "", "", err
		}
		if u.Scheme != "https" {
			return nil, "", "", fmt.Errorf("webhook URL must use https, got %q", *cc.URL)
		}
		return u, "", u.Hostname(), nil
	}
	ref := cc.Service
	if ref == nil {
		return nil, "", "", fmt.Errorf("webhook has neither url nor service")
	}
	port := int32(443)
	if ref.Port != nil {
		port = *ref.Port
	}
	addr, err := p.endpoint(ref.Namespace, ref.Name, port)
	if err != nil {
		return nil, "", "", err
	}
	host := ref.Name + "." + ref.Namespace + ".svc"
	u = &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}
	if ref.Path != nil {
		u.Path = *ref.Path
	}
	return u, addr, host, nil
}

func (p *Plugin) endpoint(ns, name string, port int32) (string, error) {
	svc, err := p.svc.Services(ns).Get(name)
	if err != nil {
		return "", fmt.Errorf("service %s/%s: %w", ns, name, err)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return "", fmt.Errorf("service %s/%s has no port %d", ns, name, port)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port))), nil
	}
	slices, err := p.slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
	if err != nil {
		return "", err
	}
	for _, s := range slices {
		var target int32
		for _, pt := range s.Ports {
			if pt.Port != nil && ptrStr(pt.Name) == sp.Name {
				target = *pt.Port
			}
		}
		if target == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
				continue
			}
			return net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(target))), nil
		}
	}
	return "", fmt.Errorf("service %s/%s has no ready endpoints for port %d", ns, name, port)
}

func ptrStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type transportKey struct{ ca, serverName, dial string }

// transport verifies the webhook's certificate against caBundle (the system roots when empty).
func (p *Plugin) transport(ca []byte, serverName, dial string) (*http.Transport, error) {
	key := transportKey{string(ca), serverName, dial}
	if t, ok := p.transports.Load(key); ok {
		return t.(*http.Transport), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("caBundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	t := &http.Transport{TLSClientConfig: cfg, Proxy: nil, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}
	if dial != "" {
		d := &net.Dialer{}
		t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, dial)
		}
	}
	got, _ := p.transports.LoadOrStore(key, t)
	return got.(*http.Transport), nil
}
