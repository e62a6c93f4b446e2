package validation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateStorageClass(t *testing.T) {
	sc := func(prov string, params map[string]string) *storagev1.StorageClass {
		return &storagev1.StorageClass{Provisioner: prov, Parameters: params}
	}
	check(t, sc("kubernetes.io/no-provisioner", nil), nil)
	check(t, sc("", nil), nil, wantErr{req, "provisioner", ""})
	recycle := corev1.PersistentVolumeReclaimRecycle
	withRecycle := sc("csi.example.com", nil)
	withRecycle.ReclaimPolicy = &recycle
	check(t, withRecycle, nil, wantErr{unsup, "reclaimPolicy", ""})
	check(t, sc("csi.example.com", map[string]string{"type": "ssd"}), sc("csi.example.com", map[string]string{"type": "hdd"}),
		wantErr{forb, "parameters", "updates to parameters are forbidden."})
	check(t, sc("other.example.com", nil), sc("csi.example.com", nil), wantErr{forb, "provisioner", "updates to provisioner are forbidden."})
}

func TestValidatePriorityClassAndLease(t *testing.T) {
	check(t, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}, nil)
	check(t, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Value: 2000000000}, nil,
		wantErr{forb, "value", "maximum allowed value of a user defined priority is 1000000000"})
	check(t, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 1}, nil,
		wantErr{forb, "metadata.name", "system-mine is not a known system priority class"})
	check(t, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000}, nil)
	check(t, &schedulingv1.PriorityClass{Value: 2}, &schedulingv1.PriorityClass{Value: 1}, wantErr{forb, "value", "may not be changed in an update."})

	zero := int32(0)
	check(t, &coordinationv1.Lease{}, nil)
	check(t, &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: &zero}}, nil,
		wantErr{inv, "spec.leaseDurationSeconds", "must be greater than 0"})
}

func newCSRPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestValidateCSR(t *testing.T) {
	good := func() *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    newCSRPEM(t),
			SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		}}
	}
	check(t, good(), nil)
	bad := good()
	bad.Spec.Request = []byte("not pem")
	check(t, bad, nil, wantErr{inv, "spec.request", "PEM block type must be CERTIFICATE REQUEST"})
	noUsage := good()
	noUsage.Spec.Usages = nil
	check(t, noUsage, nil, wantErr{req, "spec.usages", ""})
	signer := good()
	signer.Spec.SignerName = "nodomain"
	check(t, signer, nil, wantErr{inv, "spec.signerName", "must be a fully qualified domain and path"})
	legacy := good()
	legacy.Spec.SignerName = "kubernetes.io/legacy-unknown"
	check(t, legacy, nil, wantErr{inv, "spec.signerName", "the legacy signerName is not allowed via this API version"})
}

func TestValidateWebhookConfiguration(t *testing.T) {
	none := admissionregistrationv1.SideEffectClassNone
	hook := func() admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    "policy.example.com",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "ns", Name: "svc"}},
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
		}
	}
	cfg := func(mut func(*admissionregistrationv1.ValidatingWebhook)) *admissionregistrationv1.ValidatingWebhookConfiguration {
		h := hook()
		mut(&h)
		return &admissionregistrationv1.ValidatingWebhookConfiguration{Webhooks: []admissionregistrationv1.ValidatingWebhook{h}}
	}
	check(t, cfg(func(*admissionregistrationv1.ValidatingWebhook) {}), nil)
	check(t, cfg(func(h *admissionregistrationv1.ValidatingWebhook) { h.Name = "short" }), nil, wantErr{inv, "webhooks[0].name", ""})
	check(t, cfg(func(h *admissionregistrationv1.ValidatingWebhook) { h.SideEffects = nil }), nil,
		wantErr{req, "webhooks[0].sideEffects", "must specify one of None, NoneOnDryRun"})
	check(t, cfg(func(h *admissionregistrationv1.ValidatingWebhook) { h.AdmissionReviewVersions = nil }), nil,
		wantErr{req, "webhooks[0].admissionReviewVersions", "must specify one of v1, v1beta1"})
	check(t, cfg(func(h *admissionregistrationv1.ValidatingWebhook) {
		u := "http://example.com/hook"
		h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &u}
	}), nil, wantErr{inv, "webhooks[0].clientConfig.url", "'https' is the only allowed URL scheme"})
	check(t, cfg(func(h *admissionregistrationv1.ValidatingWebhook) {
		h.ClientConfig = admissionregistrationv1.WebhookClientConfig{}
	}), nil,
		wantErr{req, "webhooks[0].clientConfig", "exactly one of url or service is required"})
	check(t, cfg(func(h *admissionregistrationv1.ValidatingWebhook) { h.Rules[0].Operations = nil }), nil,
		wantErr{req, "webhooks[0].rules[0].operations", ""})
	two := &admissionregistrationv1.ValidatingWebhookConfiguration{Webhooks: []admissionregistrationv1.ValidatingWebhook{hook(), hook()}}
	check(t, two, nil, wantErr{dup, "webhooks[1].name", ""})
}

func TestValidateEventsV1(t *testing.T) {
	good := func() *eventsv1.Event {
		return &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Name: "e", Namespace: "default"},
			EventTime:           metav1.NowMicro(),
			ReportingController: "example.com/controller",
			ReportingInstance:   "controller-1",
			Action:              "Scale",
			Reason:              "Scaled",
			Type:                corev1.EventTypeNormal,
			Regarding:           corev1.ObjectReference{Kind: "Deployment", Namespace: "default", Name: "web"},
		}
	}
	check(t, good(), nil)
	bad := good()
	bad.Type = "Info"
	bad.DeprecatedCount = 3
	check(t, bad, nil, wantErr{inv, "type", "has invalid value: Info"}, wantErr{inv, "count", "needs to be unset"})
	changed := good()
	changed.Note = "edited"
	check(t, changed, good(), wantErr{inv, "message", "field is immutable"})
}
