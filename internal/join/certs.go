package join

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"
)

// certSpec says what one of the node's certificates is.
type certSpec struct {
	// name is "client" or "server": the files are <pki>/kubelet-<name>-current.pem (certificate and key), a
	// symlink to the timestamped file of the latest certificate, as the kubelet's.
	name    string
	signer  string
	usages  []certificatesv1.KeyUsage
	subject pkix.Name
	dns     []string
	ips     []net.IP
}

// ClientSpec is the node's client certificate: kubernetes.io/kube-apiserver-client-kubelet, CN
// system:node:<name>, O system:nodes, digital signature + client auth (an ECDSA key needs no key encipherment).
func clientSpec(nodeName string) certSpec {
	return certSpec{name: "client", signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
		usages:  []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		subject: pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}}}
}

// servingSpec is the node's serving certificate (kubernetes.io/kubelet-serving) for its names and addresses.
func servingSpec(nodeName string, dns []string, ips []net.IP) certSpec {
	return certSpec{name: "server", signer: certificatesv1.KubeletServingSignerName,
		usages:  []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		subject: pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}}, dns: dns, ips: ips}
}

// csrPEM makes a fresh ECDSA P-256 key and the PEM CSR for it.
func (s certSpec) csrPEM() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	subject := s.subject
	der, err := certutil.MakeCSR(key, &subject, s.dns, s.ips)
	if err != nil {
		return nil, nil, err
	}
	return key, der, nil
}

// certManager holds one certificate of the node, in memory and on disk, and renews it through a CSR at a
// jittered 70–90% of its life (as the kubelet's certificate manager), switching in place.
type certManager struct {
	spec certSpec
	dir  string
	// client returns who requests renewals (the node's own credentials).
	client func() kubernetes.Interface
	now    func() time.Time

	mu       sync.Mutex
	cert     *tls.Certificate
	deadline time.Time
	// onRotate runs (outside the lock) after a new certificate replaced one.
	onRotate func()
}

func newCertManager(spec certSpec, dir string) *certManager {
	return &certManager{spec: spec, dir: dir, now: time.Now}
}

func (m *certManager) currentPath() string {
	return filepath.Join(m.dir, "kubelet-"+m.spec.name+"-current.pem")
}

// load reads the current certificate from disk; it reports whether one was there and still valid.
func (m *certManager) load() bool {
	data, err := os.ReadFile(m.currentPath())
	if err != nil {
		return false
	}
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		slog.Warn("ignoring an unreadable node certificate", "file", m.currentPath(), "err", err)
		return false
	}
	if now := m.now(); now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore) {
		slog.Info("the node certificate on disk is not valid now", "file", m.currentPath(), "notAfter", cert.Leaf.NotAfter)
		return false
	}
	if cert.Leaf.Subject.CommonName != m.spec.subject.CommonName {
		slog.Info("the node certificate on disk is for another node", "file", m.currentPath(), "subject", cert.Leaf.Subject.CommonName)
		return false
	}
	m.set(&cert)
	return true
}

func (m *certManager) set(cert *tls.Certificate) {
	m.mu.Lock()
	renewed := m.cert != nil
	m.cert = cert
	m.deadline = rotationDeadline(cert.Leaf, mathrand.Float64())
	onRotate := m.onRotate
	m.mu.Unlock()
	if renewed && onRotate != nil {
		onRotate()
	}
}

// rotationDeadline is when to renew: the kubelet's notBefore + (70% to 90%, by jitter in [0,1)) of the life.
func rotationDeadline(c *x509.Certificate, jitter float64) time.Time {
	total := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(time.Duration(float64(total) * (0.7 + 0.2*jitter)))
}

// current returns the certificate (nil until there is one).
func (m *certManager) current() *tls.Certificate {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cert
}

func (m *certManager) rotationTime() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deadline
}

// request asks for a new certificate with client, waits until it is issued, stores and uses it.
func (m *certManager) request(ctx context.Context, client kubernetes.Interface) error {
	key, csrPEM, err := m.spec.csrPEM()
	if err != nil {
		return err
	}
	name, uid, err := csr.RequestCertificateWithContext(ctx, client, csrPEM, "", m.spec.signer, nil, m.spec.usages, key)
	if err != nil {
		return fmt.Errorf("creating a %s CertificateSigningRequest: %w", m.spec.signer, err)
	}
	slog.Info("requested a node certificate", "csr", name, "signer", m.spec.signer)
	certPEM, err := csr.WaitForCertificate(ctx, client, name, uid)
	if err != nil {
		return fmt.Errorf("waiting for CertificateSigningRequest %s to be approved and issued: %w", name, err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("the certificate issued for %s: %w", name, err)
	}
	if err := m.store(append(certPEM, keyPEM...)); err != nil {
		return err
	}
	m.set(&cert)
	slog.Info("node certificate issued", "csr", name, "signer", m.spec.signer, "notAfter", cert.Leaf.NotAfter)
	return nil
}

// store writes kubelet-<name>-<time>.pem and points kubelet-<name>-current.pem at it (replaced atomically by
// rename, so a reader never sees half a file); the previous file is removed.
func (m *certManager) store(data []byte) error {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return err
	}
	file := "kubelet-" + m.spec.name + "-" + m.now().UTC().Format("2006-01-02-15-04-05.000000") + ".pem"
	if err := os.WriteFile(filepath.Join(m.dir, file), data, 0o600); err != nil {
		return err
	}
	old, _ := os.Readlink(m.currentPath())
	tmp := m.currentPath() + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(file, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, m.currentPath()); err != nil {
		return err
	}
	if old != "" && old != file {
		_ = os.Remove(filepath.Join(m.dir, old))
	}
	return nil
}

// run keeps the certificate renewed until ctx ends: at the rotation deadline (or at once when there is none)
// it requests a new one with the node's credentials, retrying with back-off (capped at 5 min) on failure.
func (m *certManager) run(ctx context.Context) {
	backoff := 2 * time.Second
	for {
		wait := time.Duration(0)
		if m.current() != nil {
			wait = m.rotationTime().Sub(m.now())
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		reqCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		err := m.request(reqCtx, m.client())
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 2 * time.Second
			continue
		}
		slog.Error("renewing a node certificate", "signer", m.spec.signer, "err", err, "retryIn", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Minute)
	}
}

var errNoCert = errors.New("no certificate issued yet")

// getCertificate is a tls.Config callback for the current certificate.
func (m *certManager) getCertificate() (*tls.Certificate, error) {
	if c := m.current(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("node %s certificate: %w", m.spec.name, errNoCert)
}
