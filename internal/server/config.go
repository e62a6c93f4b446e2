package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"skiff/internal/kubelet"
	"skiff/internal/kubelet/node"
	skiffversion "skiff/internal/version"
)

// Config is everything `skiff server` can be told.
type Config struct {
	DataDir         string
	BindAddress     string
	HTTPSPort       int
	WriteKubeconfig string
	// AdvertiseAddress is the address written into kubeconfigs and discovery; defaults to 127.0.0.1.
	AdvertiseAddress string
	// TLSSANs are extra names or IPs for the serving certificate.
	TLSSANs []string

	EtcdServers  []string
	EtcdCAFile   string
	EtcdCertFile string
	EtcdKeyFile  string
	// EtcdClientPort and EtcdPeerPort are the embedded etcd's loopback ports.
	EtcdClientPort int
	EtcdPeerPort   int

	// EncryptionProviderConfig is an EncryptionConfiguration file ("": <data-dir>/encryption/config.yaml,
	// written on first start, encrypts Secrets); EncryptionProviderConfigAutomaticReload re-reads it when it changes.
	EncryptionProviderConfig                string
	EncryptionProviderConfigAutomaticReload bool

	// AuditPolicyFile is an audit.k8s.io/v1 Policy; AuditLogPath where events go ("-": stdout), rotated
	// past AuditLogMaxSizeMB, keeping AuditLogMaxBackups files for AuditLogMaxAgeDays. Both needed for a log.
	AuditPolicyFile    string
	AuditLogPath       string
	AuditLogMaxSizeMB  int
	AuditLogMaxBackups int
	AuditLogMaxAgeDays int

	// PodSecurityAdmissionConfig is a PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1, bare
	// or inside an AdmissionConfiguration): defaults for unlabelled namespaces and exemptions.
	PodSecurityAdmissionConfig string

	DisableAgent       bool
	CompactionInterval time.Duration

	// DisableScheduler leaves pod placement to another scheduler; SchedulerConfig is a
	// KubeSchedulerConfiguration file.
	DisableScheduler bool
	SchedulerConfig  string
	// DisableControllers names controllers of the controller manager not to run.
	DisableControllers []string
	// NodeMonitorGracePeriod is how long a node may miss heartbeats before it is NotReady/Unknown.
	NodeMonitorGracePeriod time.Duration
	// ClusterSigningCertFile and ClusterSigningKeyFile are the CA the CSR signing controller signs with
	// (default: the cluster CA, <data-dir>/tls/ca.crt/.key); ClusterSigningDuration caps the certificates'
	// lifetime.
	ClusterSigningCertFile, ClusterSigningKeyFile string
	ClusterSigningDuration                        time.Duration
	// AutoApproveKubeletServing turns on skiff's approval rule for nodes' kubelet-serving CSRs.
	AutoApproveKubeletServing bool
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds are the tolerationSeconds the
	// DefaultTolerationSeconds admission plugin gives pods for the not-ready and unreachable NoExecute taints
	// (nil: upstream's 300).
	DefaultNotReadyTolerationSeconds    *int64
	DefaultUnreachableTolerationSeconds *int64

	// Cluster DNS: ClusterDNS is the DNS Service IP written into pods' resolv.conf, ClusterDomain the zone.
	// DNSListen is where the DNS server answers (UDP and TCP; "" turns it off); DNSListenExplicit says the
	// address was asked for, so failing to bind it stops the server (the default only warns).
	// DNSUpstreamResolvConf names the upstream resolvers (default /etc/resolv.conf).
	ClusterDNS            string
	ClusterDNSExplicit    bool
	ClusterDomain         string
	DNSListen             string
	DNSListenExplicit     bool
	DNSUpstreamResolvConf string

	// DisableProxy turns off the service proxy (the skiff-proxy nftables table) that runs with the agent.
	DisableProxy bool
	// ClusterCIDR is the pod network, cut into /NodeCIDRMaskSize node subnets by the controller manager.
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// PodNetworkBackend connects nodes' pod subnets: vxlan, host-gw or none.
	PodNetworkBackend string
	// TLSMinVersion (VersionTLS12 or VersionTLS13) and TLSCipherSuites (IANA names; empty: ECDHE with AEAD
	// only) configure the API server's TLS.
	TLSMinVersion   string
	TLSCipherSuites []string
	// DisableNetworkPolicy turns off NetworkPolicy enforcement (the inet skiff-policy nftables table).
	DisableNetworkPolicy bool
	// ServiceCIDR is the Service ClusterIP range; NodePortRange is "min-max".
	ServiceCIDR   string
	NodePortRange string

	// Agent settings (the node agent runs unless DisableAgent); `skiff agent` takes the same.
	NodeAgentConfig

	// Authentication: OIDC, static token file, bootstrap tokens and anonymous requests (see authn.go).
	Authentication AuthenticationConfig
	// Service account tokens: ServiceAccountIssuers are the accepted "iss" values, the first signs (default
	// https://kubernetes.default.svc.<cluster domain>); APIAudiences are the API's token audiences (default:
	// the issuers). The signing key is <data-dir>/tls/service-account.key unless ServiceAccountSigningKeyFile
	// is set; ServiceAccountKeyFiles add verification keys. ServiceAccountMaxTokenExpiration caps
	// TokenRequest lifetimes (0: no cap); ServiceAccountJWKSURI overrides the discovery document's jwks_uri.
	// ServiceAccountExtendTokenExpiration (default true) makes a pod-bound token asked for 3607 s valid a year,
	// with a warn-after marker at the requested expiry (--service-account-extend-token-expiration).
	ServiceAccountIssuers               []string
	APIAudiences                        []string
	ServiceAccountSigningKeyFile        string
	ServiceAccountKeyFiles              []string
	ServiceAccountMaxTokenExpiration    time.Duration
	ServiceAccountJWKSURI               string
	ServiceAccountExtendTokenExpiration *bool
}

// NodeAgentConfig are the node agent's settings, shared by `skiff server` (its own node) and `skiff agent`
// (a joined node).
type NodeAgentConfig struct {
	NodeName        string
	NodeIP          string
	NodeLabels      map[string]string
	NodeTaints      []string
	MaxPods         int
	RuntimeEndpoint string
	// PodCIDR, when set, is this node's pod subnet instead of one allocated from ClusterCIDR.
	PodCIDR     string
	KubeletPort int
	// KubeReserved and SystemReserved are held back from allocatable (cpu, memory, ephemeral-storage, pid).
	KubeReserved   map[string]string
	SystemReserved map[string]string
	// EvictionHard are the hard eviction thresholds (upstream syntax), which decide the node's pressure
	// conditions.
	EvictionHard string
}

// Kubelet returns the node agent configuration these settings describe (taints, reserved resources and
// eviction thresholds parsed; NodeName defaults to the host name). The caller adds the client-side parts.
func (n NodeAgentConfig) Kubelet(dataDir string) (kubelet.Config, error) {
	taints, err := parseTaints(n.NodeTaints)
	if err != nil {
		return kubelet.Config{}, err
	}
	reserved, err := parseReserved(n.KubeReserved, n.SystemReserved)
	if err != nil {
		return kubelet.Config{}, err
	}
	eviction, err := node.ParseEvictionHard(n.EvictionHard)
	if err != nil {
		return kubelet.Config{}, fmt.Errorf("--eviction-hard: %w", err)
	}
	name := n.NodeName
	if name == "" {
		name = hostname()
	}
	return kubelet.Config{DataDir: dataDir, NodeName: name, NodeIP: n.NodeIP, Labels: n.NodeLabels, Taints: taints,
		MaxPods: n.MaxPods, RuntimeEndpoint: n.RuntimeEndpoint, PodCIDR: n.PodCIDR, KubeletVersion: skiffversion.Kubernetes,
		Port: n.KubeletPort, Reserved: reserved, EvictionHard: eviction}, nil
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.DataDir == "" {
		c.DataDir = "/var/lib/skiff"
	}
	if c.HTTPSPort == 0 {
		c.HTTPSPort = 6443
	}
	if c.BindAddress == "" {
		c.BindAddress = "0.0.0.0"
	}
	if c.WriteKubeconfig == "" {
		c.WriteKubeconfig = filepath.Join(c.DataDir, "admin.kubeconfig")
	}
	if c.AdvertiseAddress == "" {
		c.AdvertiseAddress = "127.0.0.1"
		if ip := net.ParseIP(c.BindAddress); ip != nil && !ip.IsUnspecified() {
			c.AdvertiseAddress = c.BindAddress
		}
	}
	if c.EtcdClientPort == 0 {
		c.EtcdClientPort = 2379
	}
	if c.EtcdPeerPort == 0 {
		c.EtcdPeerPort = 2380
	}
	if c.ServiceAccountExtendTokenExpiration == nil {
		c.ServiceAccountExtendTokenExpiration = new(true)
	}
	if c.DefaultNotReadyTolerationSeconds == nil {
		c.DefaultNotReadyTolerationSeconds = new(int64(300))
	}
	if c.DefaultUnreachableTolerationSeconds == nil {
		c.DefaultUnreachableTolerationSeconds = new(int64(300))
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if len(c.ServiceAccountIssuers) == 0 {
		c.ServiceAccountIssuers = []string{"https://kubernetes.default.svc." + c.ClusterDomain}
	}
	if len(c.APIAudiences) == 0 {
		c.APIAudiences = c.ServiceAccountIssuers
	}
	if c.CompactionInterval == 0 {
		c.CompactionInterval = 5 * time.Minute
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// localIPs lists this machine's interface addresses for the serving certificate.
func localIPs() []net.IP {
	var out []net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}
