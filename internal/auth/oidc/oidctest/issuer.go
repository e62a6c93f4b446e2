// Package oidctest is a small OpenID Connect issuer for tests: an HTTPS server on loopback serving the
// discovery document and the JWKS, and an RS256 signer whose key can be rotated.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running test issuer. URL is its issuer URL (https://127.0.0.1:port).
type Issuer struct {
	URL    string
	Server *httptest.Server
	// JWKSFetches counts JWKS requests, so tests see refetches.
	JWKSFetches atomic.Int64

	mu   sync.Mutex
	key  *rsa.PrivateKey
	kid  string
	keys int
}

// Start runs an issuer until the test ends.
func Start(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{}
	i.Rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": i.URL, "jwks_uri": i.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		i.JWKSFetches.Add(1)
		i.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: "RS256", Use: "sig"}}}
		i.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	i.Server = httptest.NewTLSServer(mux)
	i.URL = i.Server.URL
	t.Cleanup(i.Server.Close)
	return i
}

// Close stops serving; Restart serves again on the same address with the same certificate and keys (an issuer
// that was down).
func (i *Issuer) Close() { i.Server.Close() }

// Restart serves the issuer again on its address, until the test ends.
func (i *Issuer) Restart(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", i.Server.Listener.Addr().String())
	if err != nil {
		t.Fatalf("oidctest: listening again on %s: %v", i.Server.Listener.Addr(), err)
	}
	srv := httptest.NewUnstartedServer(i.Server.Config.Handler)
	srv.Listener.Close()
	srv.Listener, srv.TLS = ln, i.Server.TLS
	srv.StartTLS()
	i.Server = srv
	t.Cleanup(srv.Close)
}

// CAPEM is the PEM of the certificate the issuer serves (self-signed), for --oidc-ca-file.
func (i *Issuer) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.Server.Certificate().Raw})
}

// Rotate replaces the signing key with a new one under a new kid; the JWKS then serves only the new key.
func (i *Issuer) Rotate() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys++
	i.key, i.kid = key, fmt.Sprintf("key-%d", i.keys)
}

// Sign returns a compact JWT of claims signed with the current key.
func (i *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	i.mu.Lock()
	key, kid := i.key, i.kid
	i.mu.Unlock()
	return SignWith(t, key, kid, claims)
}

// Forge signs claims with a key the issuer never published, under the current kid (a wrong signature).
func (i *Issuer) Forge(t testing.TB, claims map[string]any) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	i.mu.Lock()
	kid := i.kid
	i.mu.Unlock()
	return SignWith(t, key, kid, claims)
}

// SignWith signs claims with key under kid (RS256).
func SignWith(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
