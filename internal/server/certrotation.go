package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/connrotation"

	"skiff/internal/pki"
)

// memoryCert is a certificate of the cluster CA held only in memory (an in-process component's client
// identity, the node agent's serving certificate, the API server's client certificate for node agents). It is
// issued anew once two thirds of its life have passed, so a server running longer than a certificate's
// validity never presents an expired one.
type memoryCert struct {
	ca   *pki.CA
	leaf pki.Leaf
	now  func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	renewAt time.Time
	// onRenew runs (outside the lock) after a renewal replaced a certificate.
	onRenew func()
}

func newMemoryCert(ca *pki.CA, leaf pki.Leaf) (*memoryCert, error) {
	m := &memoryCert{ca: ca, leaf: leaf, now: time.Now}
	if _, err := m.current(); err != nil {
		return nil, err
	}
	return m, nil
}

// current returns the certificate, renewing it when due, except for client certificates whose connections
// are rotated (onRenew set): a renewal during a handshake would close that very connection, so those are
// renewed only by keepRenewed, as client-go does.
func (m *memoryCert) current() (*tls.Certificate, error) {
	m.mu.Lock()
	if m.cert != nil && (m.onRenew != nil || m.now().Before(m.renewAt)) {
		defer m.mu.Unlock()
		return m.cert, nil
	}
	return m.renewLocked()
}

// renew issues a new certificate now.
func (m *memoryCert) renew() (*tls.Certificate, error) {
	m.mu.Lock()
	return m.renewLocked()
}

// renewLocked issues a new certificate; it is called with m.mu held and releases it.
func (m *memoryCert) renewLocked() (*tls.Certificate, error) {
	certPEM, keyPEM, err := m.ca.Issue(m.leaf)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	renewed := m.cert != nil
	m.cert = &cert
	issued, na := m.now(), cert.Leaf.NotAfter
	m.renewAt = issued.Add(na.Sub(issued) * 2 / 3)
	onRenew := m.onRenew
	m.mu.Unlock()
	if renewed {
		slog.Info("renewed an in-memory certificate", "subject", m.leaf.CommonName, "notAfter", na)
		if onRenew != nil {
			onRenew()
		}
	}
	return &cert, nil
}

// renewAtTime is when the current certificate is due.
func (m *memoryCert) renewAtTime() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.renewAt
}

// keepRenewed renews a client certificate when due until ctx ends, then runs onRenew (closing the
// connections made with the old one).
func (m *memoryCert) keepRenewed(ctx context.Context) {
	for {
		wait := time.Until(m.renewAtTime())
		if wait < time.Second {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if m.now().Before(m.renewAtTime()) {
			continue
		}
		if _, err := m.renew(); err != nil {
			slog.Error("renewing an in-memory certificate", "subject", m.leaf.CommonName, "err", err)
		}
	}
}

// tlsConfig serves or presents the certificate (GetCertificate and GetClientCertificate), renewing it on use.
func (m *memoryCert) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: defaultCipherSuites,
		GetCertificate:       func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return m.current() },
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.current() }}
}

// rotatingClientConfig is a client config for host that authenticates with m, trusting caPEM. The connections
// are closed when the certificate is renewed, as client-go does for rotated certificates, since the API server
// checks a client certificate's validity on every request. It has no TLS fields of its own (client-go refuses
// them next to a custom transport); copies (withAgent) share the transport.
func rotatingClientConfig(ctx context.Context, m *memoryCert, host string, caPEM []byte) (*rest.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate to trust")
	}
	dialer := connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	m.mu.Lock()
	m.onRenew = dialer.CloseAll
	m.mu.Unlock()
	go m.keepRenewed(ctx)
	tlsCfg := m.tlsConfig()
	tlsCfg.GetCertificate, tlsCfg.CipherSuites = nil, nil
	tlsCfg.RootCAs = pool
	// client-go's own defaults (as for a config without a custom transport): HTTP/2 with health-check pings,
	// so a watch over a dead connection is noticed, proxy from the environment, timeouts.
	tr := utilnet.SetTransportDefaults(&http.Transport{DialContext: dialer.DialContext, TLSClientConfig: tlsCfg,
		MaxIdleConnsPerHost: 25, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second})
	return &rest.Config{Host: host, Transport: tr}, nil
}
