package join

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"skiff/internal/pki"
)

// issue returns a client certificate of ca for CN, as the signer would issue it for a node CSR.
func issue(t *testing.T, ca *pki.CA, cn string) (*tls.Certificate, []byte) {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(pki.Leaf{CommonName: cn, Organization: []string{"system:nodes"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c, append(certPEM, keyPEM...)
}

// TestStoreAndLoad: a stored certificate is found again at the next start (no token needed); one that expired
// or names another node is not.
func TestStoreAndLoad(t *testing.T) {
	ca := testCA(t)
	dir := t.TempDir()
	m := newCertManager(clientSpec("n1"), dir)
	_, data := issue(t, ca, "system:node:n1")
	if err := m.store(data); err != nil {
		t.Fatal(err)
	}
	first, _ := os.Readlink(m.currentPath())
	if !newCertManager(clientSpec("n1"), dir).load() {
		t.Fatal("stored certificate not loaded")
	}
	// A second certificate replaces the first (symlink swapped, old file removed).
	m.now = func() time.Time { return time.Now().Add(time.Second) }
	if err := m.store(data); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.Readlink(m.currentPath()); second == first {
		t.Fatalf("current still points at %s", first)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Fatalf("old certificate file kept: %v", err)
	}
	later := newCertManager(clientSpec("n1"), dir)
	later.now = func() time.Time { return time.Now().Add(400 * 24 * time.Hour) }
	if later.load() {
		t.Fatal("expired certificate loaded")
	}
	if newCertManager(clientSpec("n2"), dir).load() {
		t.Fatal("another node's certificate loaded")
	}
}

// TestRotatingConfigSwitches: when the certificate is replaced, the client's connections are closed and the
// next request presents the new certificate, without a new client.
func TestRotatingConfigSwitches(t *testing.T) {
	ca := testCA(t)
	srvCert, srvKey, err := ca.Issue(pki.Leaf{CommonName: "apiserver", IPs: nil, DNSNames: []string{"localhost"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	pair, _ := tls.X509KeyPair(srvCert, srvKey)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()

	m := newCertManager(clientSpec("n1"), t.TempDir())
	first, _ := issue(t, ca, "system:node:n1")
	m.set(first)
	cfg, err := rotatingConfig(m, "https://localhost:"+srv.URL[len("https://127.0.0.1:"):], ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		resp, err := client.Get(cfg.Host + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(); got != "system:node:n1" {
		t.Fatalf("first: %s", got)
	}
	// A renewed certificate (another CN only to tell them apart).
	second, _ := issue(t, ca, "system:node:n1-renewed")
	m.set(second)
	if got := get(); got != "system:node:n1-renewed" {
		t.Fatalf("after rotation the client still presents %s", got)
	}
}
