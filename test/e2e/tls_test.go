package e2e

import (
	"crypto/tls"
	"net/url"
	"testing"

	"skiff/test/e2e/framework"
)

// TestTLSSettings: the API server speaks TLS 1.2+ with forward-secret AEAD suites only by default, and
// --tls-min-version VersionTLS13 refuses TLS 1.2.
func TestTLSSettings(t *testing.T) {
	handshake := func(c *framework.Cluster, cfg *tls.Config) error {
		u, err := url.Parse(c.Config.Host)
		if err != nil {
			t.Fatal(err)
		}
		cfg.InsecureSkipVerify = true
		conn, err := tls.Dial("tcp", u.Host, cfg)
		if err == nil {
			conn.Close()
		}
		return err
	}
	c := framework.Start(t, framework.Options{})
	if err := handshake(c, &tls.Config{MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatalf("TLS 1.2+ handshake: %v", err)
	}
	if err := handshake(c, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("a TLS 1.1 client was accepted")
	}
	if err := handshake(c, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}); err == nil {
		t.Fatal("a CBC suite without AEAD was accepted")
	}
	c13 := framework.Start(t, framework.Options{ExtraArgs: []string{"--tls-min-version=VersionTLS13"}})
	if err := handshake(c13, &tls.Config{MaxVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("--tls-min-version VersionTLS13 accepted TLS 1.2")
	}
	if err := handshake(c13, &tls.Config{MinVersion: tls.VersionTLS13}); err != nil {
		t.Fatalf("TLS 1.3 handshake: %v", err)
	}
}
