package join

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	bootstraptoken "skiff/internal/auth/bootstrap"
)

// ErrDiscovery marks failures to establish trust in the cluster (bad signature, CA hash mismatch): retrying
// will not help, unlike a server that is not up yet.
var ErrDiscovery = errors.New("cluster discovery failed")

// CAHash is kubeadm's pin of a CA: "sha256:" and the hex SHA-256 of its DER SubjectPublicKeyInfo.
func CAHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CAHashPEM returns the CAHash of the first certificate in pemBytes.
func CAHashPEM(pemBytes []byte) (string, error) {
	certs, err := parseCerts(pemBytes)
	if err != nil {
		return "", err
	}
	return CAHash(certs[0]), nil
}

func parseCerts(pemBytes []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate found")
	}
	return certs, nil
}

// checkCAHashes accepts caPEM when one of its certificates matches one of the pins ("sha256:<hex>", as kubeadm's
// --discovery-token-ca-cert-hash; a malformed pin is an error).
func checkCAHashes(caPEM []byte, pins []string) error {
	for _, p := range pins {
		hexPart, ok := strings.CutPrefix(strings.ToLower(p), "sha256:")
		if b, err := hex.DecodeString(hexPart); !ok || err != nil || len(b) != sha256.Size {
			return fmt.Errorf("invalid --discovery-token-ca-cert-hash %q: want sha256:<64 hex digits>", p)
		}
	}
	certs, err := parseCerts(caPEM)
	if err != nil {
		return fmt.Errorf("%w: cluster-info CA: %w", ErrDiscovery, err)
	}
	for _, c := range certs {
		h := CAHash(c)
		for _, p := range pins {
			if strings.EqualFold(h, p) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: the cluster CA's public key hash %s does not match --discovery-token-ca-cert-hash", ErrDiscovery, CAHash(certs[0]))
}

// Discovery is what a joining node needs to find and trust the cluster.
type Discovery struct {
	// Server is https://host:port of an API server.
	Server string
	Token  Token
	// CACertHashes pin the cluster CA; required unless UnsafeSkipCAVerification.
	CACertHashes             []string
	UnsafeSkipCAVerification bool
}

// Cluster is the trusted outcome of discovery.
type Cluster struct {
	// Server is the API server URL the cluster-info kubeconfig names (the address the node then uses).
	Server string
	CAPEM  []byte
}

// Discover reads kube-public/cluster-info from Server without trusting it (anonymously: the token secret is
// never sent before the server is trusted, since whoever holds it could forge the signature), checks its
// detached JWS with the token and the CA against the pins, and returns the cluster it names. A signature that
// is missing is retried until ctx ends (the bootstrap signer may not have signed a new token yet), as kubeadm.
func (d Discovery) Discover(ctx context.Context) (*Cluster, error) {
	if len(d.CACertHashes) == 0 && !d.UnsafeSkipCAVerification {
		return nil, errors.New("using token-based discovery without --discovery-token-ca-cert-hash can be unsafe; set --discovery-token-unsafe-skip-ca-verification to continue")
	}
	insecure := &rest.Config{Host: d.Server, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, Timeout: 10 * time.Second,
		UserAgent: "skiff-agent-discovery"}
	client, err := kubernetes.NewForConfig(insecure)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for {
		cm, err := client.CoreV1().ConfigMaps(bootstraptoken.ClusterInfoNamespace).Get(ctx, bootstraptoken.ClusterInfoConfigMap, metav1.GetOptions{})
		if err == nil {
			c, verr := d.verify(cm.Data)
			if verr == nil {
				c.Server = serverFor(d.Server, c.Server)
				if err := c.confirm(ctx, d.Server, cm.Data[bootstraptoken.KubeconfigKey]); err != nil {
					return nil, err
				}
				return c, nil
			}
			if !errors.Is(verr, errRetry) {
				return nil, verr
			}
			err = verr
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: reading %s/%s from %s: %w", ErrDiscovery, bootstraptoken.ClusterInfoNamespace, bootstraptoken.ClusterInfoConfigMap, d.Server, lastErr)
		case <-time.After(2 * time.Second):
		}
	}
}

var errRetry = errors.New("not signed yet")

// verify checks cluster-info's data (pure: no I/O).
func (d Discovery) verify(data map[string]string) (*Cluster, error) {
	kubeconfig, ok := data[bootstraptoken.KubeconfigKey]
	if !ok {
		return nil, fmt.Errorf("%w: there is no %s key in the cluster-info ConfigMap", ErrDiscovery, bootstraptoken.KubeconfigKey)
	}
	sig, ok := data[bootstraptoken.JWSSignatureKeyPrefix+d.Token.ID]
	if !ok {
		return nil, fmt.Errorf("%w: there is no JWS signed token in the cluster-info ConfigMap for token ID %q", errRetry, d.Token.ID)
	}
	if !bootstraptoken.ValidDetachedSignature(sig, kubeconfig, d.Token.ID, d.Token.Secret) {
		return nil, fmt.Errorf("%w: failed to verify JWS signature of received cluster info object, can't trust this API Server", ErrDiscovery)
	}
	cfg, err := clientcmd.Load([]byte(kubeconfig))
	if err != nil {
		return nil, fmt.Errorf("%w: cluster-info kubeconfig: %w", ErrDiscovery, err)
	}
	var cluster *Cluster
	for _, c := range cfg.Clusters {
		cluster = &Cluster{Server: c.Server, CAPEM: c.CertificateAuthorityData}
		break
	}
	if cluster == nil || len(cluster.CAPEM) == 0 {
		return nil, fmt.Errorf("%w: the cluster-info kubeconfig names no cluster with a CA", ErrDiscovery)
	}
	// Pins given are always checked, even with the unsafe skip (as kubeadm): the skip only allows none.
	if !d.UnsafeSkipCAVerification || len(d.CACertHashes) > 0 {
		if err := checkCAHashes(cluster.CAPEM, d.CACertHashes); err != nil {
			return nil, err
		}
	}
	return cluster, nil
}

// confirm re-reads cluster-info from server over TLS trusting only the discovered CA, as kubeadm does, and checks
// that it is the same: the server really holds the CA's key.
func (c *Cluster) confirm(ctx context.Context, server, kubeconfig string) error {
	client, err := kubernetes.NewForConfig(&rest.Config{Host: server, TLSClientConfig: rest.TLSClientConfig{CAData: c.CAPEM},
		Timeout: 10 * time.Second, UserAgent: "skiff-agent-discovery"})
	if err != nil {
		return err
	}
	cm, err := client.CoreV1().ConfigMaps(bootstraptoken.ClusterInfoNamespace).Get(ctx, bootstraptoken.ClusterInfoConfigMap, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%w: reading cluster-info again trusting the discovered CA: %w", ErrDiscovery, err)
	}
	if cm.Data[bootstraptoken.KubeconfigKey] != kubeconfig {
		return fmt.Errorf("%w: cluster-info changed between the insecure and the secure read", ErrDiscovery)
	}
	return nil
}

// serverFor picks the API server URL the node uses: cluster-info's (as kubeadm), unless that names a loopback
// host while the node reached the server elsewhere (a server started with the default --advertise-address).
func serverFor(given, advertised string) string {
	if advertised == "" {
		return given
	}
	au, err1 := url.Parse(advertised)
	gu, err2 := url.Parse(given)
	if err1 != nil || err2 != nil {
		return given
	}
	if isLoopback(au.Hostname()) && !isLoopback(gu.Hostname()) {
		return given
	}
	return advertised
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
