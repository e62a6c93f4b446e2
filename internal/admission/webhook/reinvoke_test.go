package webhook

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	admissionreglisters "k8s.io/client-go/listers/admissionregistration/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/admission"
)

// TestReinvocation: an IfNeeded webhook is called again when a later webhook changed the object; a Never one
// is not.
func TestReinvocation(t *testing.T) {
	var firstCalls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rev admissionv1.AdmissionReview
		_ = json.NewDecoder(r.Body).Decode(&rev)
		pt := admissionv1.PatchTypeJSONPatch
		resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true, PatchType: &pt}
		if r.URL.Path == "/first" {
			firstCalls.Add(1)
			resp.Patch = []byte(`[{"op":"add","path":"/metadata/labels/first","value":"yes"}]`)
		} else {
			resp.Patch = []byte(`[{"op":"add","path":"/metadata/labels/second","value":"yes"}]`)
		}
		rev.Response = resp
		_ = json.NewEncoder(w).Encode(rev)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	rules := []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.OperationAll},
		Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}
	none := admissionregv1.SideEffectClassNone
	cfg := func(name, path string, policy admissionregv1.ReinvocationPolicyType) *admissionregv1.MutatingWebhookConfiguration {
		u := srv.URL + path
		return &admissionregv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregv1.MutatingWebhook{{Name: name + ".example.com", Rules: rules, SideEffects: &none,
				ReinvocationPolicy: &policy, AdmissionReviewVersions: []string{"v1"},
				ClientConfig: admissionregv1.WebhookClientConfig{URL: &u, CABundle: ca}}}}
	}
	for _, c := range []struct {
		policy admissionregv1.ReinvocationPolicyType
		want   int32
	}{{admissionregv1.IfNeededReinvocationPolicy, 2}, {admissionregv1.NeverReinvocationPolicy, 1}} {
		idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
		_ = idx.Add(cfg("a-first", "/first", c.policy))
		_ = idx.Add(cfg("b-second", "/second", admissionregv1.NeverReinvocationPolicy))
		p := New()
		p.mwc = admissionreglisters.NewMutatingWebhookConfigurationLister(idx)
		firstCalls.Store(0)
		a := podAttrs(admission.Create, "")
		p.started.Store(true)
		close(p.synced)
		// Through the chain: the second pass is the chain's (a reinvocation context per request).
		if err := (admission.Chain{p}).Admit(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		l := a.Object.(*corev1.Pod).Labels
		if firstCalls.Load() != c.want || l["first"] != "yes" || l["second"] != "yes" {
			t.Errorf("%s: first called %d times (want %d), labels %v", c.policy, firstCalls.Load(), c.want, l)
		}
	}
}
