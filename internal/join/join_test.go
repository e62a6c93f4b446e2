package join

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	bootstraptoken "skiff/internal/auth/bootstrap"
	"skiff/internal/pki"
)

func TestParseToken(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"abcdef.0123456789abcdef", true},
		{"ABCDEF.0123456789abcdef", false},
		{"abcde.0123456789abcdef", false},
		{"abcdef.0123456789abcde", false},
		{"abcdef0123456789abcdef", false},
		{"abcdef.0123456789abcdef ", false},
	} {
		tok, err := ParseToken(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseToken(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if tc.ok && tok.String() != tc.in {
			t.Errorf("round trip %q -> %q", tc.in, tok)
		}
	}
	for range 20 {
		tok, err := GenerateToken()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseToken(tok.String()); err != nil {
			t.Fatalf("generated token %q: %v", tok, err)
		}
	}
}

func TestTokenSecretAndRow(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef"}
	s, err := TokenOptions{TTL: 24 * time.Hour, Description: "for n1", Usages: DefaultUsages, Groups: []string{DefaultGroup}}.Secret(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "bootstrap-token-abcdef" || s.Namespace != "kube-system" || s.Type != "bootstrap.kubernetes.io/token" {
		t.Fatalf("secret %s/%s type %s", s.Namespace, s.Name, s.Type)
	}
	want := map[string]string{"token-id": "abcdef", "token-secret": "0123456789abcdef", "expiration": "2026-01-03T03:04:05Z",
		"usage-bootstrap-signing": "true", "usage-bootstrap-authentication": "true", "description": "for n1",
		"auth-extra-groups": DefaultGroup}
	if len(s.Data) != len(want) {
		t.Errorf("data keys: %v", s.Data)
	}
	for k, v := range want {
		if string(s.Data[k]) != v {
			t.Errorf("%s = %q, want %q", k, s.Data[k], v)
		}
	}
	row, ok := RowFor(s, now.Add(time.Hour))
	if !ok {
		t.Fatal("row refused")
	}
	if row != (TokenRow{"abcdef.0123456789abcdef", "23h", "2026-01-03T03:04:05Z", "authentication,signing", "for n1", DefaultGroup}) {
		t.Errorf("row %+v", row)
	}
	forever, _ := TokenOptions{Usages: []string{"signing"}}.Secret(tok, now)
	if row, _ := RowFor(forever, now); row.TTL != "<forever>" || row.Expires != "<never>" || row.Description != "<none>" || row.ExtraGroups != "<none>" {
		t.Errorf("row %+v", row)
	}
	for _, bad := range []TokenOptions{
		{Usages: []string{"signing", "other"}},
		{Usages: []string{"authentication"}, Groups: []string{"admins"}},
		{Usages: []string{"signing"}, Groups: []string{"system:bootstrappers:x"}},
		{TTL: -time.Second},
	} {
		if _, err := bad.Secret(tok, now); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func testCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestCAHash(t *testing.T) {
	ca := testCA(t)
	h, err := CAHashPEM(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
		t.Fatalf("hash %q", h)
	}
	if err := checkCAHashes(ca.CertPEM, []string{h}); err != nil {
		t.Fatal(err)
	}
	if err := checkCAHashes(ca.CertPEM, []string{"sha256:" + strings.Repeat("0", 64)}); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("wrong pin: %v", err)
	}
	if err := checkCAHashes(ca.CertPEM, []string{"md5:00"}); err == nil || errors.Is(err, ErrDiscovery) {
		t.Fatalf("malformed pin: %v", err)
	}
	other := testCA(t)
	if err := checkCAHashes(other.CertPEM, []string{h}); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("other CA accepted: %v", err)
	}
}

// clusterInfo returns cluster-info's data as the server and the bootstrap signer write it.
func clusterInfo(t *testing.T, ca *pki.CA, tok Token) map[string]string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[""] = &clientcmdapi.Cluster{Server: "https://10.0.0.1:6443", CertificateAuthorityData: ca.CertPEM}
	raw, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := bootstraptoken.DetachedSignature(string(raw), tok.ID, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"kubeconfig": string(raw), "jws-kubeconfig-" + tok.ID: sig}
}

func TestVerifyClusterInfo(t *testing.T) {
	ca := testCA(t)
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef"}
	data := clusterInfo(t, ca, tok)
	hash, _ := CAHashPEM(ca.CertPEM)

	c, err := Discovery{Token: tok, CACertHashes: []string{hash}}.verify(data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "https://10.0.0.1:6443" || string(c.CAPEM) != string(ca.CertPEM) {
		t.Fatalf("cluster %+v", c)
	}
	// A wrong secret for the same token id: the signature does not verify.
	if _, err := (Discovery{Token: Token{ID: "abcdef", Secret: "0123456789abcdeX"}, CACertHashes: []string{hash}}).verify(data); !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), "JWS") {
		t.Fatalf("wrong secret: %v", err)
	}
	// A token not signed (yet): retried, not a trust failure.
	if _, err := (Discovery{Token: Token{ID: "zzzzzz", Secret: "0123456789abcdef"}, CACertHashes: []string{hash}}).verify(data); !errors.Is(err, errRetry) {
		t.Fatalf("unsigned token: %v", err)
	}
	// A kubeconfig changed after signing.
	tampered := map[string]string{"kubeconfig": strings.Replace(data["kubeconfig"], "10.0.0.1", "10.6.6.6", 1), "jws-kubeconfig-abcdef": data["jws-kubeconfig-abcdef"]}
	if _, err := (Discovery{Token: tok, CACertHashes: []string{hash}}).verify(tampered); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("tampered: %v", err)
	}
	// Wrong CA pin, and the unsafe skip.
	if _, err := (Discovery{Token: tok, CACertHashes: []string{"sha256:" + strings.Repeat("a", 64)}}).verify(data); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("wrong pin: %v", err)
	}
	if _, err := (Discovery{Token: tok, UnsafeSkipCAVerification: true}).verify(data); err != nil {
		t.Fatal(err)
	}
}

func TestServerFor(t *testing.T) {
	for _, tc := range []struct{ given, advertised, want string }{
		{"https://10.0.0.1:6443", "https://10.0.0.1:6443", "https://10.0.0.1:6443"},
		{"https://10.0.0.1:6443", "https://lb.example:6443", "https://lb.example:6443"},
		{"https://10.0.0.1:6443", "https://127.0.0.1:6443", "https://10.0.0.1:6443"},
		{"https://127.0.0.1:6443", "https://127.0.0.1:6443", "https://127.0.0.1:6443"},
	} {
		if got := serverFor(tc.given, tc.advertised); got != tc.want {
			t.Errorf("serverFor(%s, %s) = %s, want %s", tc.given, tc.advertised, got, tc.want)
		}
	}
}

func TestCSRContents(t *testing.T) {
	for _, spec := range []certSpec{clientSpec("n1"), servingSpec("n1", []string{"n1", "host1"}, []net.IP{net.ParseIP("10.0.0.5")})} {
		key, data, err := spec.csrPEM()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		req, err := x509.ParseCertificateRequest(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if req.Subject.CommonName != "system:node:n1" || len(req.Subject.Organization) != 1 || req.Subject.Organization[0] != "system:nodes" {
			t.Errorf("%s subject %v", spec.name, req.Subject)
		}
		if req.PublicKeyAlgorithm != x509.ECDSA || key.Curve.Params().Name != "P-256" {
			t.Errorf("%s key %v", spec.name, req.PublicKeyAlgorithm)
		}
		switch spec.name {
		case "client":
			if len(req.DNSNames)+len(req.IPAddresses) != 0 || spec.signer != certificatesv1.KubeAPIServerClientKubeletSignerName {
				t.Errorf("client SANs %v %v signer %s", req.DNSNames, req.IPAddresses, spec.signer)
			}
		case "server":
			if strings.Join(req.DNSNames, ",") != "n1,host1" || len(req.IPAddresses) != 1 || !req.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) || spec.signer != certificatesv1.KubeletServingSignerName {
				t.Errorf("serving SANs %v %v signer %s", req.DNSNames, req.IPAddresses, spec.signer)
			}
		}
	}
}

func TestRotationDeadline(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(100 * time.Hour)}
	if got := rotationDeadline(c, 0); got.Sub(nb.Add(70*time.Hour)).Abs() > time.Millisecond {
		t.Errorf("jitter 0: %s", got)
	}
	if got := rotationDeadline(c, 0.999999); got.Before(nb.Add(89*time.Hour)) || got.After(nb.Add(90*time.Hour)) {
		t.Errorf("jitter 1: %s", got)
	}
}
