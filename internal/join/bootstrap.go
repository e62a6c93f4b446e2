package join

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/connrotation"
)

// Config is what a node needs to join.
type Config struct {
	// DataDir holds agent/kubelet.kubeconfig and agent/pki/.
	DataDir  string
	NodeName string
	// ServingDNS and ServingIPs are the SANs of the node's serving certificate.
	ServingDNS []string
	ServingIPs []net.IP
	// Discovery is used only when there are no valid credentials yet (Discovery.Server set).
	Discovery Discovery
	// BootstrapTimeout bounds discovery and the first CSR (default 5 min, kubeadm's discovery timeout).
	BootstrapTimeout time.Duration
}

// Node is a joined node's credentials, renewed while ctx of Join runs.
type Node struct {
	// Config reaches the API server as system:node:<name> with the current client certificate.
	Config *rest.Config
	// ServerTLS serves the node's HTTPS port with its current serving certificate, requiring client
	// certificates of the cluster CA (the API server's).
	ServerTLS *tls.Config
	Server    string
}

// KubeconfigPath is the node's kubeconfig under dataDir.
func KubeconfigPath(dataDir string) string {
	return filepath.Join(dataDir, "agent", "kubelet.kubeconfig")
}

// PKIDir holds the node's CA and certificates.
func PKIDir(dataDir string) string { return filepath.Join(dataDir, "agent", "pki") }

// Join returns the node's credentials: those on disk when the client certificate is still valid (no token
// needed), else obtained by discovery and TLS bootstrap with the token. Both certificates are then renewed in
// the background until ctx ends; the serving certificate is requested at once if there is none.
func Join(ctx context.Context, cfg Config) (*Node, error) {
	pkiDir := PKIDir(cfg.DataDir)
	client := newCertManager(clientSpec(cfg.NodeName), pkiDir)
	server, caPEM, err := readKubeconfig(KubeconfigPath(cfg.DataDir))
	if err == nil && client.load() {
		slog.Info("using the node's existing credentials", "kubeconfig", KubeconfigPath(cfg.DataDir), "server", server)
	} else {
		if cfg.Discovery.Server == "" || cfg.Discovery.Token.ID == "" {
			return nil, fmt.Errorf("no valid node credentials in %s: --server and --token are needed to join", KubeconfigPath(cfg.DataDir))
		}
		timeout := cfg.BootstrapTimeout
		if timeout == 0 {
			timeout = 5 * time.Minute
		}
		bctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cluster, err := cfg.Discovery.Discover(bctx)
		if err != nil {
			return nil, err
		}
		server, caPEM = cluster.Server, cluster.CAPEM
		slog.Info("cluster discovered and trusted", "server", server)
		if err := tlsBootstrap(bctx, client, server, caPEM, cfg.Discovery.Token); err != nil {
			return nil, err
		}
		if err := writeKubeconfig(KubeconfigPath(cfg.DataDir), server, caPEM, client.currentPath()); err != nil {
			return nil, err
		}
	}
	restCfg, err := rotatingConfig(client, server, caPEM)
	if err != nil {
		return nil, err
	}
	nodeClient, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	client.client = func() kubernetes.Interface { return nodeClient }
	go client.run(ctx)

	serving := newCertManager(servingSpec(cfg.NodeName, cfg.ServingDNS, cfg.ServingIPs), pkiDir)
	if serving.load() && !sameSANs(serving.current().Leaf, cfg.ServingDNS, cfg.ServingIPs) {
		// The node's names or addresses changed: ask for a certificate for the new ones (kept until issued).
		serving.mu.Lock()
		serving.deadline = time.Time{}
		serving.mu.Unlock()
	}
	serving.client = client.client
	go serving.run(ctx)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	serverTLS := &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return serving.getCertificate() }}
	return &Node{Config: restCfg, ServerTLS: serverTLS, Server: server}, nil
}

// tlsBootstrap gets the first client certificate with the bootstrap token (system:bootstrap:<id>), whose
// node client CSR csrapproving approves (nodeclient).
func tlsBootstrap(ctx context.Context, m *certManager, server string, caPEM []byte, tok Token) error {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.dir, "ca.crt"), caPEM, 0o644); err != nil {
		return err
	}
	bootstrapClient, err := kubernetes.NewForConfig(&rest.Config{Host: server, BearerToken: tok.String(),
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}, UserAgent: "skiff-agent-bootstrap", Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	if err := m.request(ctx, bootstrapClient); err != nil {
		return fmt.Errorf("TLS bootstrap with token %s: %w", tok.ID, err)
	}
	return nil
}

func sameSANs(c *x509.Certificate, dns []string, ips []net.IP) bool {
	if len(c.DNSNames) != len(dns) || len(c.IPAddresses) != len(ips) {
		return false
	}
	for i := range dns {
		if c.DNSNames[i] != dns[i] {
			return false
		}
	}
	for i := range ips {
		if !c.IPAddresses[i].Equal(ips[i]) {
			return false
		}
	}
	return true
}

// rotatingConfig is a client config presenting m's current certificate: when it is replaced, the open
// connections are closed (client-go's connrotation), so the next requests use the new one, without a restart.
func rotatingConfig(m *certManager, server string, caPEM []byte) (*rest.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate to trust")
	}
	dialer := connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	m.mu.Lock()
	m.onRotate = dialer.CloseAll
	m.mu.Unlock()
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.getCertificate() }}
	tr := utilnet.SetTransportDefaults(&http.Transport{DialContext: dialer.DialContext, TLSClientConfig: tlsCfg,
		MaxIdleConnsPerHost: 25, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second})
	// The same rate limit as the node agent inside skiff server.
	return &rest.Config{Host: server, Transport: tr, UserAgent: "skiff-kubelet", QPS: 200, Burst: 400}, nil
}

// writeKubeconfig writes the node's kubeconfig: the server, its CA and the current client certificate file
// (the symlink, so rotation needs no rewrite), as the kubelet's.
func writeKubeconfig(path, server string, caPEM []byte, certFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["default-cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["default-auth"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: certFile}
	cfg.Contexts["default-context"] = &clientcmdapi.Context{Cluster: "default-cluster", AuthInfo: "default-auth"}
	cfg.CurrentContext = "default-context"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// readKubeconfig returns the server and CA of the node's kubeconfig.
func readKubeconfig(path string) (server string, caPEM []byte, err error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return "", nil, err
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil {
		return "", nil, errors.New(path + ": no current cluster")
	}
	c := cfg.Clusters[ctx.Cluster]
	if len(c.CertificateAuthorityData) == 0 {
		return "", nil, errors.New(path + ": no certificate-authority-data")
	}
	return c.Server, c.CertificateAuthorityData, nil
}
