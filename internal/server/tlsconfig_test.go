package server

import (
	"crypto/tls"
	"testing"
)

func TestTLSSettings(t *testing.T) {
	v, suites, err := tlsSettings("", nil)
	if err != nil || v != tls.VersionTLS12 || len(suites) != len(defaultCipherSuites) {
		t.Fatalf("defaults: %x %v %v", v, suites, err)
	}
	insecure := map[uint16]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.ID] = true
	}
	for _, s := range suites {
		if insecure[s] {
			t.Errorf("default suite %x is insecure", s)
		}
	}
	if v, suites, err := tlsSettings("VersionTLS13", []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}); err != nil || v != tls.VersionTLS13 ||
		len(suites) != 1 || suites[0] != tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("explicit: %x %v %v", v, suites, err)
	}
	for _, bad := range []struct {
		v      string
		suites []string
	}{{"VersionTLS10", nil}, {"", []string{"TLS_RSA_WITH_RC4_128_SHA"}}, {"", []string{"NOPE"}}} {
		if _, _, err := tlsSettings(bad.v, bad.suites); err == nil {
			t.Errorf("tlsSettings(%q, %v) accepted", bad.v, bad.suites)
		}
	}
}
