package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"skiff/internal/pki"
)

// defaultCipherSuites are the TLS 1.2 suites offered by default: forward-secret key exchange and AEAD only (TLS
// 1.3's suites are fixed by Go and all modern).
var defaultCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsSettings parses --tls-min-version (VersionTLS12 or VersionTLS13, upstream's spelling) and
// --tls-cipher-suites (IANA names as upstream; empty: defaultCipherSuites). Insecure suites are refused.
func tlsSettings(minVersion string, suites []string) (uint16, []uint16, error) {
	var v uint16
	switch minVersion {
	case "", "VersionTLS12":
		v = tls.VersionTLS12
	case "VersionTLS13":
		v = tls.VersionTLS13
	default:
		return 0, nil, fmt.Errorf("--tls-min-version %q: want VersionTLS12 or VersionTLS13", minVersion)
	}
	if len(suites) == 0 {
		return v, defaultCipherSuites, nil
	}
	known := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		known[s.Name] = s.ID
	}
	insecure := map[string]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.Name] = true
	}
	var ids []uint16
	for _, name := range suites {
		name = strings.TrimSpace(name)
		if insecure[name] {
			return 0, nil, fmt.Errorf("--tls-cipher-suites: %s is insecure", name)
		}
		id, ok := known[name]
		if !ok {
			return 0, nil, fmt.Errorf("--tls-cipher-suites: unknown suite %q", name)
		}
		ids = append(ids, id)
	}
	return v, ids, nil
}

// renewingCertificate serves a leaf of the CA from tlsDir and issues a new one when the current one is within
// 30 days of expiry (pki.CA.EnsureLeaf's rule), checked at most once an hour, so a long-running server never
// serves an expired certificate.
type renewingCertificate struct {
	ca       *pki.CA
	dir      string
	name     string
	leaf     pki.Leaf
	mu       sync.Mutex
	cert     *tls.Certificate
	notAfter time.Time
	checked  time.Time
}

func (r *renewingCertificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cert != nil && time.Since(r.checked) < time.Hour {
		return r.cert, nil
	}
	r.checked = time.Now()
	if r.cert != nil && time.Until(r.notAfter) > 30*24*time.Hour {
		return r.cert, nil
	}
	certFile, keyFile, err := r.ca.EnsureLeaf(r.dir, r.name, r.leaf)
	if err != nil {
		if r.cert != nil {
			slog.Error("renewing the serving certificate", "err", err)
			return r.cert, nil
		}
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	if r.cert != nil && !leaf.NotAfter.Equal(r.notAfter) {
		slog.Info("serving certificate renewed", "notAfter", leaf.NotAfter)
	}
	r.cert, r.notAfter = &cert, leaf.NotAfter
	return r.cert, nil
}
