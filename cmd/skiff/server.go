package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"skiff/internal/server"
)

func serverCommand() *cobra.Command {
	var cfg server.Config
	var logLevel string
	var notReadySeconds, unreachableSeconds int64
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: embedded etcd, API server and controllers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			// client-go logs through klog: send it to the same structured log.
			klog.SetSlogLogger(slog.Default())
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			cfg.DefaultNotReadyTolerationSeconds, cfg.DefaultUnreachableTolerationSeconds = &notReadySeconds, &unreachableSeconds
			cfg.DNSListenExplicit = cmd.Flags().Changed("dns-listen")
			cfg.ClusterDNSExplicit = cmd.Flags().Changed("cluster-dns")
			cfg.Authentication.AnonymousAuthExplicit = cmd.Flags().Changed("anonymous-auth")
			return server.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff", "directory for etcd data, certificates and kubeconfigs")
	f.IntVar(&cfg.HTTPSPort, "https-port", 6443, "port the API server listens on (HTTPS)")
	f.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "", "address clients use to reach the API server (default 127.0.0.1, or --bind-address when it is specific)")
	f.StringSliceVar(&cfg.TLSSANs, "tls-san", nil, "extra hostnames or IPs for the serving certificate")
	f.StringVar(&cfg.WriteKubeconfig, "write-kubeconfig", "", "where to write the admin kubeconfig (default <data-dir>/admin.kubeconfig)")
	f.StringSliceVar(&cfg.EtcdServers, "etcd-servers", nil, "external etcd endpoints (comma-separated); default: embedded etcd in <data-dir>/etcd")
	f.StringVar(&cfg.EtcdCAFile, "etcd-cafile", "", "CA bundle to verify external etcd servers")
	f.StringVar(&cfg.EtcdCertFile, "etcd-certfile", "", "client certificate for external etcd")
	f.StringVar(&cfg.EtcdKeyFile, "etcd-keyfile", "", "client key for external etcd")
	f.IntVar(&cfg.EtcdClientPort, "etcd-client-port", 2379, "loopback client port of the embedded etcd")
	f.IntVar(&cfg.EtcdPeerPort, "etcd-peer-port", 2380, "loopback peer port of the embedded etcd")
	f.DurationVar(&cfg.CompactionInterval, "etcd-compaction-interval", 5*time.Minute, "how often etcd history older than one interval is compacted")
	f.StringVar(&cfg.EncryptionProviderConfig, "encryption-provider-config", "", "EncryptionConfiguration file (apiserver.config.k8s.io/v1) saying how resources are encrypted in etcd (default: <data-dir>/encryption/config.yaml, written on first start: Secrets with aesgcm under a generated key)")
	f.BoolVar(&cfg.EncryptionProviderConfigAutomaticReload, "encryption-provider-config-automatic-reload", false, "re-read --encryption-provider-config every minute and apply it when it changed and is valid")
	f.StringVar(&cfg.AuditPolicyFile, "audit-policy-file", "", "audit policy (audit.k8s.io/v1 Policy): which requests are logged at which level; with --audit-log-path")
	f.StringVar(&cfg.AuditLogPath, "audit-log-path", "", "file audit events are appended to as JSON lines (\"-\": stdout); nothing is logged without it and --audit-policy-file")
	f.IntVar(&cfg.AuditLogMaxSizeMB, "audit-log-maxsize", 0, "rotate the audit log when it reaches this many megabytes (0: never, unless another rotation flag is set: then 100)")
	f.IntVar(&cfg.AuditLogMaxBackups, "audit-log-maxbackup", 0, "rotated audit log files to keep (0: all)")
	f.IntVar(&cfg.AuditLogMaxAgeDays, "audit-log-maxage", 0, "days to keep rotated audit log files (0: forever)")
	f.StringVar(&cfg.PodSecurityAdmissionConfig, "pod-security-admission-config", "", "PodSecurityConfiguration file (pod-security.admission.config.k8s.io/v1, or an AdmissionConfiguration with a PodSecurity plugin): default Pod Security levels for namespaces without labels, and exempt users, runtime classes and namespaces")
	f.BoolVar(&cfg.DisableScheduler, "disable-scheduler", false, "do not run the scheduler in this process")
	f.StringVar(&cfg.SchedulerConfig, "scheduler-config", "", "KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1) for the built-in scheduler")
	f.StringSliceVar(&cfg.DisableControllers, "disable-controllers", nil, "controllers of the controller manager not to run (e.g. replicaset,deployment)")
	f.StringVar(&cfg.ClusterSigningCertFile, "cluster-signing-cert-file", "", "PEM CA certificate the CertificateSigningRequest signer signs kubernetes.io signers' certificates with (default: the cluster CA); with --cluster-signing-key-file; reread when it changes")
	f.StringVar(&cfg.ClusterSigningKeyFile, "cluster-signing-key-file", "", "PEM private key of --cluster-signing-cert-file")
	f.DurationVar(&cfg.ClusterSigningDuration, "cluster-signing-duration", 8760*time.Hour, "longest duration of certificates signed for CertificateSigningRequests (spec.expirationSeconds may ask for less)")
	f.BoolVar(&cfg.AutoApproveKubeletServing, "auto-approve-kubelet-serving", false, "approve joined nodes' kubelet-serving CSRs whose names and addresses are the node's (the addresses are what the node reports: use only with trusted nodes; off: approve with kubectl certificate approve, as upstream)")
	f.DurationVar(&cfg.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node's heartbeat Lease may go unrenewed before the node is marked Unknown")
	f.Int64Var(&notReadySeconds, "default-not-ready-toleration-seconds", 300, "tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration added to every pod that has none")
	f.Int64Var(&unreachableSeconds, "default-unreachable-toleration-seconds", 300, "tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration added to every pod that has none")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", "10.43.0.10", "the cluster DNS Service IP (the kube-system/kube-dns Service, routed by the service proxy to this node's DNS server), the nameserver of pods with dnsPolicy ClusterFirst (\"\": pods get the host's resolv.conf)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	f.StringVar(&cfg.DNSListen, "dns-listen", "127.0.0.1:10053", "address the cluster DNS server answers on, UDP and TCP (\"\": no DNS server)")
	f.StringVar(&cfg.DNSUpstreamResolvConf, "dns-upstream-resolv-conf", "/etc/resolv.conf", "resolv.conf whose nameservers (ip, or ip:port) answer names outside the cluster domain")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "do not run the node agent (containerd and pods) in this process")
	f.BoolVar(&cfg.DisableProxy, "disable-proxy", false, "do not run the service proxy (nftables table ip skiff-proxy) with the node agent")
	f.BoolVar(&cfg.DisableNetworkPolicy, "disable-network-policy", false, "do not enforce NetworkPolicies (nftables table inet skiff-policy) with the node agent")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "the range Service ClusterIPs are allocated from (the first address is the kubernetes Service's)")
	f.StringVar(&cfg.NodePortRange, "service-node-port-range", "30000-32767", "the range NodePorts are allocated from")
	f.StringVar(&cfg.TLSMinVersion, "tls-min-version", "VersionTLS12", "lowest TLS version the API server accepts: VersionTLS12 or VersionTLS13")
	f.StringSliceVar(&cfg.TLSCipherSuites, "tls-cipher-suites", nil, "TLS 1.2 cipher suites of the API server, IANA names (default: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only); insecure suites are refused")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "the pod network: the controller manager gives every node a subnet of it (spec.podCIDR) (\"\": nodes need --pod-cidr)")
	f.StringVar(&cfg.PodNetworkBackend, "pod-network-backend", "vxlan", "how pods reach other nodes' pod subnets: vxlan (an overlay; nodes need only IP reachability, UDP 8472), host-gw (routes via the node addresses; nodes on one L2 segment) or none")
	f.IntVar(&cfg.NodeCIDRMaskSize, "node-cidr-mask-size", 24, "prefix length of each node's pod subnet cut from --cluster-cidr")
	addNodeAgentFlags(f, &cfg.NodeAgentConfig)
	addAuthenticationFlags(f, &cfg.Authentication)
	f.StringSliceVar(&cfg.ServiceAccountIssuers, "service-account-issuer", nil, "issuer (\"iss\") of service account tokens; repeat to also accept older issuers, the first signs (default https://kubernetes.default.svc.<cluster-domain>)")
	f.StringSliceVar(&cfg.APIAudiences, "api-audiences", nil, "audiences of the API: service account tokens must name one (default: the service account issuers)")
	f.StringVar(&cfg.ServiceAccountSigningKeyFile, "service-account-signing-key-file", "", "PEM private key (RSA or ECDSA) that signs service account tokens (default <data-dir>/tls/service-account.key, generated on first start)")
	f.StringSliceVar(&cfg.ServiceAccountKeyFiles, "service-account-key-file", nil, "PEM files of extra public (or private) keys that verify service account tokens, e.g. a previous signing key")
	f.DurationVar(&cfg.ServiceAccountMaxTokenExpiration, "service-account-max-token-expiration", 0, "longest lifetime a TokenRequest may get (0: no limit)")
	cfg.ServiceAccountExtendTokenExpiration = new(true)
	f.BoolVar(cfg.ServiceAccountExtendTokenExpiration, "service-account-extend-token-expiration", true, "a pod-bound TokenRequest of 3607 s (what the node agent asks for) gets a token valid a year, warned about after 3607 s, as upstream's safe transition to bound tokens")
	f.StringVar(&cfg.ServiceAccountJWKSURI, "service-account-jwks-uri", "", "jwks_uri of /.well-known/openid-configuration (default https://<advertise-address>:<https-port>/openid/v1/jwks)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
