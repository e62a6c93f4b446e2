package webhook

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/admission"
)

func podAttrs(op string, sub string) *admission.Attributes {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"a": "b"}}}
	return &admission.Attributes{Operation: op, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Subresource: sub,
		Kind: corev1.SchemeGroupVersion.WithKind("Pod"), Namespace: "ns", Name: "p", Object: pod}
}

// TestDispatch calls a TLS server: a patch is applied in place, warnings are recorded, a denial carries the
// webhook's message, and a dead server follows failurePolicy.
func TestDispatch(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rev admissionv1.AdmissionReview
		_ = json.NewDecoder(r.Body).Decode(&rev)
		if !strings.Contains(r.URL.RawQuery, "timeout=") {
			t.Errorf("no timeout in %q", r.URL.RawQuery)
		}
		resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true, Warnings: []string{"careful"}}
		switch r.URL.Path {
		case "/mutate":
			pt := admissionv1.PatchTypeJSONPatch
			resp.PatchType, resp.Patch = &pt, []byte(`[{"op":"add","path":"/metadata/labels/added","value":"yes"}]`)
		case "/deny":
			resp.Allowed, resp.Result = false, &metav1.Status{Message: "no way", Code: 403}
		}
		rev.Response = resp
		_ = json.NewEncoder(w).Encode(rev)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	p := New()
	mk := func(path string, mutating bool, fp admissionregv1.FailurePolicyType) *hook {
		u := srv.URL + path
		return &hook{ValidatingWebhook: admissionregv1.ValidatingWebhook{Name: "w.example.com", FailurePolicy: &fp,
			ClientConfig: admissionregv1.WebhookClientConfig{URL: &u, CABundle: ca}, AdmissionReviewVersions: []string{"v1"}}, mutating: mutating}
	}
	var warnings []string
	ctx := admission.WithWarnings(context.Background(), func(m string) { warnings = append(warnings, m) })
	a := podAttrs(admission.Create, "")
	if _, err := p.dispatch(ctx, mk("/mutate", true, admissionregv1.Fail), a); err != nil {
		t.Fatal(err)
	}
	if a.Object.(*corev1.Pod).Labels["added"] != "yes" || len(warnings) != 1 || warnings[0] != "careful" {
		t.Errorf("labels %v warnings %v", a.Object.(*corev1.Pod).Labels, warnings)
	}
	// A patch for a delete (no object to change) is refused, as upstream.
	del := podAttrs(admission.Delete, "")
	del.OldObject, del.Object = del.Object, nil
	if _, err := p.dispatch(ctx, mk("/mutate", true, admissionregv1.Fail), del); !apierrors.IsInternalError(err) ||
		!strings.Contains(err.Error(), "attempted to modify the object, which is not supported for this operation") {
		t.Errorf("patch on delete: %v", err)
	}
	_, err := p.dispatch(ctx, mk("/deny", false, admissionregv1.Fail), a)
	if st, ok := err.(*apierrors.StatusError); !ok || st.ErrStatus.Code != 403 || st.ErrStatus.Message != `admission webhook "w.example.com" denied the request: no way` {
		t.Errorf("denial: %v", err)
	}
	dead := mk("/", false, admissionregv1.Fail)
	dead.ClientConfig.URL = func() *string { s := "https://127.0.0.1:1/x"; return &s }()
	_, err = p.dispatch(ctx, dead, a)
	if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), `failed calling webhook "w.example.com": failed to call webhook: Post "https://127.0.0.1:1/x?timeout=10s"`) {
		t.Errorf("dead webhook: %v", err)
	}
	ign := admissionregv1.Ignore
	dead.FailurePolicy = &ign
	if _, err := p.dispatch(ctx, dead, a); err != nil {
		t.Errorf("Ignore: %v", err)
	}
	// Another CA: verification fails.
	bad := mk("/", false, admissionregv1.Fail)
	bad.ClientConfig.CABundle = nil
	if _, err := p.dispatch(ctx, bad, a); !apierrors.IsInternalError(err) {
		t.Errorf("unverified server: %v", err)
	}
	// Dry run with unknown side effects is refused.
	a.DryRun = true
	if _, err := p.dispatch(ctx, mk("/", false, admissionregv1.Fail), a); !apierrors.IsBadRequest(err) {
		t.Errorf("dry run: %v", err)
	}
}
