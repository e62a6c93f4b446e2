package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"skiff/internal/pki"
)

func servingLeaf(cfg Config) pki.Leaf {
	leaf := pki.Leaf{CommonName: "kube-apiserver", Server: true,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:      []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if h := hostname(); h != "" {
		leaf.DNSNames = append(leaf.DNSNames, h)
	}
	leaf.IPs = append(leaf.IPs, localIPs()...)
	for _, san := range append(cfg.TLSSANs, cfg.AdvertiseAddress, cfg.BindAddress) {
		if ip := net.ParseIP(san); ip != nil {
			if !ip.IsUnspecified() {
				leaf.IPs = append(leaf.IPs, ip)
			}
		} else if san != "" {
			leaf.DNSNames = append(leaf.DNSNames, san)
		}
	}
	return leaf
}

func listen(cfg Config, ca *pki.CA, tlsDir string, h http.Handler) (*http.Server, net.Listener, error) {
	minVersion, suites, err := tlsSettings(cfg.TLSMinVersion, cfg.TLSCipherSuites)
	if err != nil {
		return nil, nil, err
	}
	serving := &renewingCertificate{ca: ca, dir: tlsDir, name: "serving", leaf: servingLeaf(cfg)}
	if _, err := serving.get(nil); err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	tlsCfg := &tls.Config{
		MinVersion:     minVersion,
		CipherSuites:   suites,
		GetCertificate: serving.get,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      pool,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	addr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.HTTPSPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, TLSConfig: tlsCfg, ReadHeaderTimeout: 30 * time.Second, MaxHeaderBytes: 1 << 20,
		// Informers multiplex many watches over one connection: allow as many streams as upstream does.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000}}
	return srv, ln, nil
}

// issueTLS issues a certificate from the cluster CA and returns a TLS config presenting it.
func issueTLS(ca *pki.CA, leaf pki.Leaf) (*tls.Config, error) {
	m, err := newMemoryCert(ca, leaf)
	if err != nil {
		return nil, err
	}
	return m.tlsConfig(), nil
}
