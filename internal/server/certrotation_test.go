package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"skiff/internal/pki"
)

// TestMemoryCertRenewal: a short-lived in-memory client certificate is renewed after two thirds of its life,
// and the connections made with the old one are closed, so the server sees the new certificate.
func TestMemoryCertRenewal(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	// The serving side renews too (GetCertificate); httptest adds a certificate of its own when the list
	// is empty, so the current one is listed.
	srvCert, err := newMemoryCert(ca, pki.Leaf{CommonName: "server", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	srvTLS := srvCert.tlsConfig()
	cur, _ := srvCert.current()
	srvTLS.Certificates = []tls.Certificate{*cur}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	srvTLS.ClientAuth, srvTLS.ClientCAs = tls.RequireAndVerifyClientCert, pool
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.PeerCertificates[0].SerialNumber.String())
	}))
	srv.TLS = srvTLS
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()

	m, err := newMemoryCert(ca, pki.Leaf{CommonName: "component", Client: true, Validity: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := rotatingClientConfig(ctx, m, srv.URL, ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: cfg.Transport, Timeout: 5 * time.Second}
	get := func() string {
		t.Helper()
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	first := get()
	if again := get(); again != first || conns.Load() != 1 {
		t.Fatalf("before renewal: serial %s then %s over %d connections", first, again, conns.Load())
	}
	deadline := time.Now().Add(20 * time.Second)
	for get() == first {
		if time.Now().After(deadline) {
			t.Fatal("the certificate was never renewed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if conns.Load() < 2 {
		t.Fatalf("renewed certificate over the old connection (%d connections)", conns.Load())
	}
}
