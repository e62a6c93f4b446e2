package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/auth"
)

// signerAuthz allows verb on the signers named in grants[user][verb].
type signerAuthz map[string]map[string][]string

func (s signerAuthz) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.APIGroup != "certificates.k8s.io" || a.Resource != "signers" {
		return auth.DecisionNoOpinion, "", nil
	}
	for _, n := range s[a.User.Name][a.Verb] {
		if n == a.Name {
			return auth.DecisionAllow, "", nil
		}
	}
	return auth.DecisionNoOpinion, "", nil
}

func csrRequest(t *testing.T, org ...string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x", Organization: org}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCertificateAdmission(t *testing.T) {
	z := signerAuthz{
		"alice": {"approve": {"example.com/foo"}, "sign": {"kubernetes.io/*"}},
		"bob":   {"approve": {"example.com/*"}},
	}
	gvr := schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}
	csr := func(signer string, cert []byte, conds ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
		c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c"},
			Spec:   certificatesv1.CertificateSigningRequestSpec{SignerName: signer, Request: csrRequest(t)},
			Status: certificatesv1.CertificateSigningRequestStatus{Certificate: cert}}
		for _, t := range conds {
			c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: t, Status: "True"})
		}
		return c
	}
	update := func(user, sub string, obj, old *certificatesv1.CertificateSigningRequest) *Attributes {
		return &Attributes{Operation: Update, Resource: gvr, Subresource: sub, Name: "c", Object: obj, OldObject: old, User: &auth.User{Name: user}}
	}
	approved := certificatesv1.CertificateApproved
	for _, tc := range []struct {
		name   string
		plugin Validator
		a      *Attributes
		want   string
	}{
		{"approve exact", CertificateApproval{z}, update("alice", "approval", csr("example.com/foo", nil, approved), csr("example.com/foo", nil)), ""},
		{"approve wildcard", CertificateApproval{z}, update("bob", "approval", csr("example.com/bar", nil, approved), csr("example.com/bar", nil)), ""},
		{"approve refused", CertificateApproval{z}, update("alice", "approval", csr("example.com/bar", nil, approved), csr("example.com/bar", nil)),
			`certificatesigningrequests.certificates.k8s.io "c" is forbidden: user not permitted to approve requests with signerName "example.com/bar"`},
		{"approval plugin ignores status", CertificateApproval{z}, update("carol", "status", csr("example.com/bar", []byte("x")), csr("example.com/bar", nil)), ""},
		{"sign wildcard", CertificateSigning{z}, update("alice", "status", csr("kubernetes.io/kubelet-serving", []byte("x")), csr("kubernetes.io/kubelet-serving", nil)), ""},
		{"sign refused", CertificateSigning{z}, update("bob", "status", csr("kubernetes.io/kubelet-serving", []byte("x")), csr("kubernetes.io/kubelet-serving", nil)),
			`certificatesigningrequests.certificates.k8s.io "c" is forbidden: user not permitted to sign requests with signerName "kubernetes.io/kubelet-serving"`},
		{"failed condition needs sign", CertificateSigning{z}, update("bob", "status", csr("example.com/x", nil, certificatesv1.CertificateFailed), csr("example.com/x", nil)),
			`certificatesigningrequests.certificates.k8s.io "c" is forbidden: user not permitted to sign requests with signerName "example.com/x"`},
		{"unchanged status", CertificateSigning{z}, update("bob", "status", csr("example.com/x", nil), csr("example.com/x", nil)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The unchanged-status case compares two separately built objects: share the request.
			if old, ok := tc.a.OldObject.(*certificatesv1.CertificateSigningRequest); ok {
				tc.a.Object.(*certificatesv1.CertificateSigningRequest).Spec.Request = old.Spec.Request
			}
			err := tc.plugin.Validate(context.Background(), tc.a)
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("subject restriction", func(t *testing.T) {
		create := func(signer string, org ...string) *Attributes {
			return &Attributes{Operation: Create, Resource: gvr, Name: "c", User: &auth.User{Name: "alice"},
				Object: &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c"},
					Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signer, Request: csrRequest(t, org...)}}}
		}
		p := CertificateSubjectRestriction{}
		err := p.Validate(context.Background(), create(certificatesv1.KubeAPIServerClientSignerName, "dev", "system:masters"))
		if err == nil || err.Error() != `certificatesigningrequests.certificates.k8s.io "c" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed` {
			t.Fatalf("system:masters: %v", err)
		}
		if err := p.Validate(context.Background(), create(certificatesv1.KubeAPIServerClientSignerName, "dev")); err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(context.Background(), create("example.com/x", "system:masters")); err != nil {
			t.Fatal(err)
		}
	})
}
