package certificates

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/pki"
)

type reqOpts struct {
	cn     string
	org    []string
	dns    []string
	ips    []net.IP
	emails []string
}

func request(t *testing.T, o reqOpts) (*x509.CertificateRequest, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: o.cn, Organization: o.org}, DNSNames: o.dns, IPAddresses: o.ips, EmailAddresses: o.emails}, key)
	if err != nil {
		t.Fatal(err)
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return req, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var (
	clientUsages  = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	rsaClient     = []certificatesv1.KeyUsage{certificatesv1.UsageKeyEncipherment, certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	servingUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
)

func TestSignerRestrictions(t *testing.T) {
	node := reqOpts{cn: "system:node:n1", org: []string{"system:nodes"}}
	withDNS := node
	withDNS.dns = []string{"n1"}
	withIP := node
	withIP.ips = []net.IP{net.ParseIP("10.0.0.1")}
	withEmail := withDNS
	withEmail.emails = []string{"a@b.c"}
	badCN := withDNS
	badCN.cn = "n1"
	for _, tc := range []struct {
		name   string
		signer string
		req    reqOpts
		usages []certificatesv1.KeyUsage
		want   string // "" ok, else a substring of the error
	}{
		{"client any subject", certificatesv1.KubeAPIServerClientSignerName, reqOpts{cn: "alice", org: []string{"dev"}}, clientUsages, ""},
		{"client rsa usages", certificatesv1.KubeAPIServerClientSignerName, reqOpts{cn: "alice"}, rsaClient, ""},
		{"client server usage", certificatesv1.KubeAPIServerClientSignerName, reqOpts{cn: "alice"}, servingUsages, "invalid usage for client certificate: server auth"},
		{"client no client auth", certificatesv1.KubeAPIServerClientSignerName, reqOpts{cn: "alice"}, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}, "missing required usage for client certificate: client auth"},
		{"kubelet client", certificatesv1.KubeAPIServerClientKubeletSignerName, node, clientUsages, ""},
		{"kubelet client rsa", certificatesv1.KubeAPIServerClientKubeletSignerName, node, rsaClient, ""},
		{"kubelet client wrong O", certificatesv1.KubeAPIServerClientKubeletSignerName, reqOpts{cn: "system:node:n1", org: []string{"x"}}, clientUsages, "subject organization is not system:nodes"},
		{"kubelet client wrong CN", certificatesv1.KubeAPIServerClientKubeletSignerName, reqOpts{cn: "n1", org: []string{"system:nodes"}}, clientUsages, "subject common name does not begin with system:node:"},
		{"kubelet client DNS", certificatesv1.KubeAPIServerClientKubeletSignerName, withDNS, clientUsages, "DNS subjectAltNames are not allowed"},
		{"kubelet client IP", certificatesv1.KubeAPIServerClientKubeletSignerName, withIP, clientUsages, "IP subjectAltNames are not allowed"},
		{"kubelet client usages", certificatesv1.KubeAPIServerClientKubeletSignerName, node, servingUsages, "usages did not match [client auth digital signature key encipherment]"},
		{"serving", certificatesv1.KubeletServingSignerName, withDNS, servingUsages, ""},
		{"serving IP only no RSA", certificatesv1.KubeletServingSignerName, withIP, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}, ""},
		{"serving no SAN", certificatesv1.KubeletServingSignerName, node, servingUsages, "DNS or IP subjectAltName is required"},
		{"serving email", certificatesv1.KubeletServingSignerName, withEmail, servingUsages, "Email subjectAltNames are not allowed"},
		{"serving client usage", certificatesv1.KubeletServingSignerName, withDNS, clientUsages, "usages did not match"},
		{"serving wrong CN", certificatesv1.KubeletServingSignerName, badCN, servingUsages, "subject common name does not begin with system:node:"},
		{"unknown signer", "example.com/x", node, clientUsages, "unrecognized signerName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := request(t, tc.req)
			err := CheckSignerRestrictions(tc.signer, req, tc.usages)
			if tc.want == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func testCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestSignDuration(t *testing.T) {
	ca := testCA(t)
	now := time.Now().Truncate(time.Second)
	s := &Signer{Duration: 24 * time.Hour, Now: func() time.Time { return now }}
	req, _ := request(t, reqOpts{cn: "alice", org: []string{"dev"}, dns: []string{"x"}})
	secs := func(n int32) *int32 { return &n }
	for _, tc := range []struct {
		name string
		exp  *int32
		want time.Duration // NotAfter - now
	}{
		{"default", nil, 24*time.Hour - backdate},
		{"shorter", secs(3600), time.Hour},
		{"min 10 minutes", secs(60), 10 * time.Minute},
		{"capped", secs(7 * 24 * 3600), 24*time.Hour - backdate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pemCert, err := s.Sign(ca, req, clientUsages, tc.exp)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(pemCert)
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if got := cert.NotAfter.Sub(now); got != tc.want {
				t.Fatalf("lifetime %v, want %v", got, tc.want)
			}
			if !cert.NotBefore.Equal(now.Add(-backdate)) || cert.IsCA || cert.Subject.CommonName != "alice" ||
				len(cert.Subject.Organization) != 1 || cert.DNSNames[0] != "x" {
				t.Fatalf("certificate %+v", cert)
			}
			if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || cert.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Fatalf("usages %v %v", cert.KeyUsage, cert.ExtKeyUsage)
			}
			if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("never outlives the CA", func(t *testing.T) {
		long := &Signer{Duration: 100 * 365 * 24 * time.Hour, Now: time.Now}
		pemCert, err := long.Sign(ca, req, clientUsages, nil)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(pemCert)
		cert, _ := x509.ParseCertificate(block.Bytes)
		if !cert.NotAfter.Equal(ca.Cert.NotAfter) {
			t.Fatalf("NotAfter %v, CA's %v", cert.NotAfter, ca.Cert.NotAfter)
		}
		expired := &Signer{Duration: time.Hour, Now: func() time.Time { return ca.Cert.NotAfter.Add(time.Minute) }}
		if _, err := expired.Sign(ca, req, clientUsages, nil); err == nil {
			t.Fatal("signed with an expired CA")
		}
	})
}

func TestFileCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	load := FileCA(filepath.Join(dir, "other.crt"), filepath.Join(dir, "other.key"))
	got, err := load()
	if err != nil || !got.Cert.Equal(ca.Cert) {
		t.Fatalf("FileCA: %v", err)
	}
	if _, err := FileCA(filepath.Join(dir, "missing.crt"), filepath.Join(dir, "other.key"))(); err == nil {
		t.Fatal("missing file accepted")
	}
}

func csrFor(t *testing.T, signer, username string, o reqOpts, usages []certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
	_, pemReq := request(t, o)
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: pemReq, SignerName: signer, Username: username, Usages: usages}}
}

func TestApprovalDecisions(t *testing.T) {
	node := reqOpts{cn: "system:node:n1", org: []string{"system:nodes"}}
	kubelet := certificatesv1.KubeAPIServerClientKubeletSignerName
	for _, tc := range []struct {
		name    string
		csr     *certificatesv1.CertificateSigningRequest
		granted []string // subresources the requester may create
		want    string   // approval message, "" for none
		tried   []string
	}{
		{"bootstrap token", csrFor(t, kubelet, "system:bootstrap:abcdef", node, clientUsages), []string{"nodeclient"},
			"Auto approving kubelet client certificate after SubjectAccessReview.", []string{"nodeclient"}},
		{"node renewing", csrFor(t, kubelet, "system:node:n1", node, rsaClient), []string{"selfnodeclient"},
			"Auto approving self kubelet client certificate after SubjectAccessReview.", []string{"selfnodeclient"}},
		{"node for another node", csrFor(t, kubelet, "system:node:n2", node, clientUsages), []string{"selfnodeclient"},
			"", []string{"nodeclient"}},
		{"no permission", csrFor(t, kubelet, "bob", node, clientUsages), nil, "", []string{"nodeclient"}},
		{"other signer", csrFor(t, certificatesv1.KubeAPIServerClientSignerName, "system:bootstrap:abcdef", node, clientUsages),
			[]string{"nodeclient", "selfnodeclient"}, "", nil},
		{"not a node request", csrFor(t, kubelet, "system:bootstrap:abcdef", reqOpts{cn: "system:node:n1", org: []string{"x"}}, clientUsages),
			[]string{"nodeclient"}, "", nil},
		{"serving usages", csrFor(t, kubelet, "system:bootstrap:abcdef", node, servingUsages), []string{"nodeclient"}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Approver{Allowed: func(_ context.Context, csr *certificatesv1.CertificateSigningRequest, attrs authorizationv1.ResourceAttributes) (bool, error) {
				if attrs.Verb != "create" || attrs.Resource != "certificatesigningrequests" || attrs.Group != "certificates.k8s.io" {
					t.Fatalf("attributes %+v", attrs)
				}
				for _, g := range tc.granted {
					if g == attrs.Subresource {
						return true, nil
					}
				}
				return false, nil
			}}
			msg, tried, err := a.decide(context.Background(), tc.csr)
			if err != nil {
				t.Fatal(err)
			}
			if msg != tc.want || strings.Join(tried, ",") != strings.Join(tc.tried, ",") {
				t.Fatalf("message %q tried %v, want %q %v", msg, tried, tc.want, tc.tried)
			}
		})
	}
}

func TestCleanerAges(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	ca := testCA(t)
	req, _ := request(t, reqOpts{cn: "alice"})
	sign := func(at time.Time, d time.Duration) []byte {
		s := &Signer{Duration: d, Now: func() time.Time { return at }}
		c, err := s.Sign(ca, req, clientUsages, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	valid, expired := sign(now, time.Hour), sign(now.Add(-3*time.Hour), time.Hour)
	cond := func(typ certificatesv1.RequestConditionType, at metav1.Time) []certificatesv1.CertificateSigningRequestCondition {
		return []certificatesv1.CertificateSigningRequestCondition{{Type: typ, Status: "True", LastUpdateTime: at}}
	}
	for _, tc := range []struct {
		name    string
		created metav1.Time
		conds   []certificatesv1.CertificateSigningRequestCondition
		cert    []byte
		delete  bool
	}{
		{"pending 23h", ago(23 * time.Hour), nil, nil, false},
		{"pending 25h", ago(25 * time.Hour), nil, nil, true},
		{"issued 59m", ago(2 * time.Hour), cond(certificatesv1.CertificateApproved, ago(59*time.Minute)), valid, false},
		{"issued 61m", ago(2 * time.Hour), cond(certificatesv1.CertificateApproved, ago(61*time.Minute)), valid, true},
		{"approved not issued 2h", ago(3 * time.Hour), cond(certificatesv1.CertificateApproved, ago(2*time.Hour)), nil, false},
		{"denied 59m", ago(2 * time.Hour), cond(certificatesv1.CertificateDenied, ago(59*time.Minute)), nil, false},
		{"denied 61m", ago(2 * time.Hour), cond(certificatesv1.CertificateDenied, ago(61*time.Minute)), nil, true},
		{"failed 61m", ago(2 * time.Hour), cond(certificatesv1.CertificateFailed, ago(61*time.Minute)), nil, true},
		{"issued just now, certificate expired", ago(time.Minute), cond(certificatesv1.CertificateApproved, ago(time.Minute)), expired, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: tc.created},
				Status: certificatesv1.CertificateSigningRequestStatus{Conditions: tc.conds, Certificate: tc.cert}}
			if got := cleanReason(csr, now); (got != "") != tc.delete {
				t.Fatalf("reason %q, want delete=%v", got, tc.delete)
			}
		})
	}
}
