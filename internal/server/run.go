package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/admission"
	"skiff/internal/admission/policy"
	"skiff/internal/admission/webhook"
	"skiff/internal/apiserver"
	"skiff/internal/apiserver/openapi"
	"skiff/internal/apiserver/registry"
	"skiff/internal/auth"
	nodeauthz "skiff/internal/auth/node"
	"skiff/internal/auth/rbac"
	"skiff/internal/controller/certificates"
	"skiff/internal/controller/manager"
	"skiff/internal/controller/namespace"
	clusterdns "skiff/internal/dns"
	"skiff/internal/kubelet"
	kubeletserver "skiff/internal/kubelet/server"
	"skiff/internal/pki"
	"skiff/internal/proxy"
	"skiff/internal/scheduler"
	schedconfig "skiff/internal/scheduler/config"
	"skiff/internal/storage"
	skiffversion "skiff/internal/version"
)

// Run starts the control plane and blocks until ctx ends, then shuts down in order.
func Run(ctx context.Context, cfg Config) error {
	cfg.Defaults()
	start := time.Now()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	if cfg.SchedulerConfig != "" {
		// A bad scheduler configuration stops the server before it starts anything.
		if _, err := schedconfig.Load(cfg.SchedulerConfig); err != nil {
			return err
		}
	}
	// A bad encryption configuration stops the server too: it decides how Secrets are written.
	enc, err := loadEncryption(cfg)
	if err != nil {
		return err
	}
	auditor, err := newAuditor(cfg)
	if err != nil {
		return err
	}
	defer auditor.Close()
	tlsDir := filepath.Join(cfg.DataDir, "tls")
	ca, err := pki.LoadOrCreateCA(tlsDir, "ca")
	if err != nil {
		return err
	}
	signingCA, err := clusterSigningCA(cfg, ca)
	if err != nil {
		return err
	}
	if _, _, err := ca.EnsureLeaf(tlsDir, "serving", servingLeaf(cfg)); err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	server := "https://" + net.JoinHostPort(cfg.AdvertiseAddress, strconv.Itoa(cfg.HTTPSPort))
	if err := ca.WriteKubeconfig(cfg.WriteKubeconfig, server, "admin", []string{auth.GroupMasters}); err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}

	etcdCli, stopEtcd, err := startEtcd(ctx, cfg)
	if err != nil {
		return err
	}
	defer stopEtcd()

	caPool := x509.NewCertPool()
	caPool.AddCert(ca.Cert)
	kubeletClient, err := issueTLS(ca, pki.Leaf{CommonName: kubeletserver.APIServerClientName, Client: true})
	if err != nil {
		return err
	}
	kubeletClient.RootCAs = caPool

	podNet, err := parsePodNetwork(cfg)
	if err != nil {
		return err
	}
	svcRanges, err := parseServiceRanges(cfg.ServiceCIDR, cfg.NodePortRange)
	if err != nil {
		return err
	}
	saIssuer, saAuthn, legacyTracker, err := serviceAccountTokens(cfg)
	if err != nil {
		return err
	}
	authn, err := authenticator(ctx, cfg.Authentication, saAuthn)
	if err != nil {
		return err
	}
	// RBAC answers once its informers, started below when the API serves, have synced; until then only
	// system:masters (the loopback identity) gets through. The Node authorizer comes first, as upstream's
	// --authorization-mode=Node,RBAC.
	rbacAuthz := rbac.NewAuthorizer()
	nodeAuthz := nodeauthz.NewAuthorizer()
	authz := auth.AuthorizerChain{auth.PublicInfo{}, auth.Masters{}, nodeAuthz, rbacAuthz}
	var nsGetter admission.NamespaceGetter
	webhooks := webhook.New()
	webhooks.Authorizer = authz
	// ValidatingAdmissionPolicy: its CEL authorizer variable asks the same authorizer chain.
	vap := policy.NewValidating(authz)
	mapPlugin := policy.NewMutating(authz)
	var pcLister admission.PriorityClassLister
	var scLister admission.StorageClassLister
	podSecurity, podLister, err := podSecurityAdmission(cfg, func(ctx context.Context, name string) (*corev1.Namespace, error) {
		return nsGetter(ctx, name)
	})
	if err != nil {
		return err
	}
	var lrLister admission.LimitRangeLister
	var quotaLister admission.QuotaLister
	var quotaUpdater admission.QuotaStatusUpdater
	api, err := apiserver.New(apiserver.Config{
		Etcd:          etcdCli,
		Authenticator: authn,
		Authorizer:    authz,
		Admission: admission.Chain{
			admission.NamespaceLifecycle{Get: func(ctx context.Context, name string) (*corev1.Namespace, error) {
				return nsGetter(ctx, name)
			}},
			// ServiceAccounts are read as the token authenticator reads them (watch cache, then etcd).
			admission.ServiceAccount{Get: func(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
				return saAuthn.Get.ServiceAccount(ctx, ns, name)
			}, Retries: 10},
			admission.Priority{List: func(ctx context.Context) ([]runtime.Object, error) { return pcLister(ctx) }},
			admission.DefaultTolerationSeconds{NotReadySeconds: *cfg.DefaultNotReadyTolerationSeconds, UnreachableSeconds: *cfg.DefaultUnreachableTolerationSeconds},
			admission.DefaultStorageClass{List: func(ctx context.Context) ([]runtime.Object, error) { return scLister(ctx) }},
			admission.LimitRanger{List: func(ctx context.Context, ns string) ([]*corev1.LimitRange, error) { return lrLister(ctx, ns) }},
			admission.NodeRestriction{
				Pod:  func(ctx context.Context, ns, name string) (*corev1.Pod, error) { return saAuthn.Get.Pod(ctx, ns, name) },
				Node: func(ctx context.Context, name string) (*corev1.Node, error) { return saAuthn.Get.Node(ctx, name) }},
			&rbac.Escalation{Authorizer: authz, RBAC: rbacAuthz},
			podSecurity,
			// CertificateApproval, CertificateSigning, CertificateSubjectRestriction: the signers resource.
			admission.CertificateApproval{Authorizer: authz}, admission.CertificateSigning{Authorizer: authz},
			admission.CertificateSubjectRestriction{},
			// Upstream's default order: MutatingAdmissionPolicy before MutatingAdmissionWebhook (mutating phase),
			// ValidatingAdmissionPolicy before ValidatingAdmissionWebhook (validating phase).
			mapPlugin,
			vap,
			webhooks,
			// Last, as upstream: it charges the quota, so everything that may refuse the write has spoken.
			admission.ResourceQuota{
				List: func(ctx context.Context, ns string) ([]*corev1.ResourceQuota, error) { return quotaLister(ctx, ns) },
				UpdateStatus: func(ctx context.Context, ns, name string, fn func(*corev1.ResourceQuota) error) error {
					return quotaUpdater(ctx, ns, name, fn)
				}},
		},
		Version:       versionInfo(),
		PublicAddress: net.JoinHostPort(cfg.AdvertiseAddress, strconv.Itoa(cfg.HTTPSPort)),
		KubeletClient: &http.Client{Transport: &http.Transport{TLSClientConfig: kubeletClient}},
		ServiceRanges: svcRanges,
		Transformers:  enc.For,
		Auditor:       auditor,
		Rules:         rbacAuthz.RulesFor,

		ServiceAccountTokens: saIssuer,
	})
	if err != nil {
		return err
	}
	saAuthn.Get = api.TokenGetter()
	if err := serveOIDCDiscovery(api, cfg, saIssuer); err != nil {
		return err
	}
	nsGetter = api.NamespaceGetter()
	pcLister = api.Lister(schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"))
	scLister = api.Lister(storagev1.SchemeGroupVersion.WithResource("storageclasses"))
	*podLister = api.Lister(corev1.SchemeGroupVersion.WithResource("pods"))
	lrLister, quotaLister, quotaUpdater = api.LimitRangeLister(), api.QuotaLister(), api.QuotaStatusUpdater()
	spec, err := openapi.New(api.Scheme(), openapiResources(api.Served()), skiffversion.Kubernetes)
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	api.Handle("/openapi", spec.Handler())
	// Profiling, as upstream's --profiling (on by default); only authorized users (system:masters) reach it.
	api.Handle("/debug/pprof", http.HandlerFunc(pprofHandler))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go api.Run(runCtx)
	if cfg.EncryptionProviderConfigAutomaticReload {
		go enc.RunReload(runCtx, time.Minute)
	}
	go storage.RunCompactor(runCtx, etcdCli, cfg.CompactionInterval)

	srv, ln, err := listen(cfg, ca, tlsDir, api.Handler())
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()

	select {
	case <-api.Ready():
	case err := <-serveErr:
		return err
	case <-ctx.Done():
		return shutdown(srv)
	}
	loopback, err := loopbackConfig(runCtx, ca, server)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return err
	}
	// Webhook configurations are watched before the first writes, which wait (bounded) for them.
	if err := startWebhooks(runCtx, loopback, webhooks); err != nil {
		return err
	}
	if err := startPolicies(runCtx, loopback, vap, mapPlugin); err != nil {
		return err
	}
	if err := bootstrap(ctx, client); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := rbac.Reconcile(ctx, client); err != nil {
		return fmt.Errorf("bootstrap: default RBAC roles: %w", err)
	}
	if err := startRBAC(runCtx, loopback, rbacAuthz); err != nil {
		return err
	}
	if err := startNodeAuthorizer(runCtx, loopback, nodeAuthz); err != nil {
		return err
	}
	ids := identities{ctx: runCtx, ca: ca, host: loopback.Host}
	if err := waitRBAC(ctx, rbacAuthz); err != nil {
		return shutdown(srv)
	}
	authn.start(runCtx, client)
	legacyTracker.start(client)
	// Allocations a crash left half-done are repaired every 3 minutes, as upstream; a record is freed when two
	// runs in a row find it orphaned, so the first two runs at start are 30 s apart.
	go func() {
		for i := 0; ; i++ {
			if err := api.RepairServiceAllocations(runCtx); err != nil && runCtx.Err() == nil {
				slog.Warn("service allocation repair", "err", err)
			}
			wait := 3 * time.Minute
			if i == 0 {
				wait = 30 * time.Second
			}
			select {
			case <-runCtx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	if err := bootstrapClusterInfo(ctx, client, server, ca.CertPEM); err != nil {
		return fmt.Errorf("bootstrap: kube-public/cluster-info: %w", err)
	}
	if err := bootstrapKubernetesService(ctx, client, apiserver.FirstServiceIP(svcRanges.CIDR), cfg.AdvertiseAddress, cfg.HTTPSPort); err != nil {
		return fmt.Errorf("bootstrap: the kubernetes Service: %w", err)
	}
	api.SetBootstrapped()
	nsCfg, err := ids.serviceAccount(metav1.NamespaceSystem, "namespace-controller", "skiff-namespace-controller", 200)
	if err != nil {
		return err
	}
	nsc, err := namespace.New(nsCfg, registry.All)
	if err != nil {
		return err
	}
	go nsc.Run(runCtx)
	kcmCfg, err := ids.config("system:kube-controller-manager", nil, "skiff-controller-manager", 200)
	if err != nil {
		return err
	}
	controllerCfg := func(sa string) (*rest.Config, error) {
		return ids.serviceAccount(metav1.NamespaceSystem, sa, "skiff-controller-manager/"+sa, 200)
	}
	go func() {
		host, _ := os.Hostname()
		abs, _ := filepath.Abs(cfg.DataDir)
		identity := fmt.Sprintf("%s_%x", host, sha256.Sum256([]byte(abs)))[:len(host)+17]
		if err := manager.Run(runCtx, manager.Config{RestConfig: kcmCfg, ControllerConfig: controllerCfg, Resources: registry.All, Identity: identity,
			Options: manager.Options{NodeMonitorGracePeriod: cfg.NodeMonitorGracePeriod, Disabled: cfg.DisableControllers,
				ClusterCIDR: podNet.cluster, NodeCIDRMaskSize: cfg.NodeCIDRMaskSize, LegacyTokens: saIssuer.IssueLegacy,
				SigningCA: signingCA, SigningDuration: cfg.ClusterSigningDuration, RootCA: ca.CertPEM,
				ApproveKubeletServing: cfg.AutoApproveKubeletServing}}); err != nil {
			slog.Error("controller manager stopped", "err", err)
		}
	}()
	dnsSrv, err := startDNS(runCtx, cfg, ids)
	if err != nil {
		return err
	}
	schedDone := make(chan struct{})
	if !cfg.DisableScheduler {
		schedCfg, err := ids.config("system:kube-scheduler", nil, "skiff-scheduler", 5000)
		if err != nil {
			return err
		}
		schedClient, err := kubernetes.NewForConfig(schedCfg)
		if err != nil {
			return err
		}
		sched, err := scheduler.Build(scheduler.RunOptions{Client: schedClient, ConfigFile: cfg.SchedulerConfig})
		if err != nil {
			return fmt.Errorf("scheduler: %w", err)
		}
		go func() {
			defer close(schedDone)
			// Each leadership term gets a fresh scheduler; after losing the lease, compete again.
			for runCtx.Err() == nil {
				_ = sched.RunWithLeaderElection(runCtx, scheduler.RunOptions{Client: schedClient})
				if runCtx.Err() != nil {
					return
				}
				next, err := scheduler.Build(scheduler.RunOptions{Client: schedClient, ConfigFile: cfg.SchedulerConfig})
				if err != nil {
					slog.Error("scheduler rebuild failed", "err", err)
					return
				}
				sched = next
			}
		}()
	}

	if !cfg.DisableAgent {
		kcfg, err := cfg.NodeAgentConfig.Kubelet(cfg.DataDir)
		if err != nil {
			return err
		}
		dnsEndpointsCfg, err := ids.config("system:skiff:dns-endpoints", nil, "skiff-dns-endpoints", 20)
		if err != nil {
			return err
		}
		dnsEndpointsClient, err := kubernetes.NewForConfig(dnsEndpointsCfg)
		if err != nil {
			return err
		}
		hostName := kcfg.NodeName
		agentCfg, err := nodeClientConfig(runCtx, loopback.Host, ca, hostName)
		if err != nil {
			return err
		}
		agentClient, err := kubernetes.NewForConfig(agentCfg)
		if err != nil {
			return err
		}
		leaf := pki.Leaf{CommonName: "system:node:" + hostName, DNSNames: []string{hostName, "localhost"}, IPs: append(localIPs(), net.ParseIP("127.0.0.1")), Server: true}
		if ip := net.ParseIP(cfg.NodeIP); ip != nil {
			leaf.IPs = append(leaf.IPs, ip)
		}
		kubeletTLS, err := issueTLS(ca, leaf)
		if err != nil {
			return err
		}
		kubeletTLS.ClientAuth, kubeletTLS.ClientCAs = tls.RequireAndVerifyClientCert, caPool
		var podsDNSAddr string // set by the agent's OnPodCIDR hook before it reports ready
		agentReady := make(chan error, 1)
		kcfg.PodCIDR, kcfg.ClusterCIDR, kcfg.ServerTLS, kcfg.ClusterDomain = podNet.staticString(), podNet.cluster, kubeletTLS, cfg.ClusterDomain
		kcfg.OnPodCIDR = onPodCIDR(cfg, dnsEndpointsClient, dnsSrv, hostName, &podsDNSAddr)
		go kubelet.Run(runCtx, agentClient, kcfg, agentReady)
		select {
		case err := <-agentReady:
			if err != nil {
				return fmt.Errorf("node agent (use --disable-agent to run only the control plane): %w", err)
			}
			if err := startOverlay(runCtx, cfg, ids, hostName); err != nil {
				return err
			}
			if !cfg.DisableProxy {
				if err := startProxy(runCtx, ids, hostName, podNet.podsNet()); err != nil {
					return err
				}
			}
			if err := startNetworkPolicy(runCtx, cfg, ids, hostName, podsDNSAddr); err != nil {
				return err
			}
		case <-ctx.Done():
			return shutdown(srv)
		}
	}
	// Start-up builds large transient structures (OpenAPI documents, type schemas): hand that memory back to the
	// OS now rather than keeping it as idle heap.
	debug.FreeOSMemory()
	slog.Info("skiff server is ready", "address", server, "kubeconfig", cfg.WriteKubeconfig, "etcd", etcdDescription(cfg), "startup", time.Since(start).Round(time.Millisecond).String())
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	slog.Info("skiff server shutting down")
	// Controllers stop first, while the API still answers, so the scheduler can hand back its lease.
	cancel()
	if !cfg.DisableScheduler {
		select {
		case <-schedDone:
		case <-time.After(3 * time.Second):
		}
	}
	return shutdown(srv)
}

// clusterSigningCA is the CA CertificateSigningRequests are signed with: --cluster-signing-cert-file and
// --cluster-signing-key-file (reread when they change), else the cluster CA.
func clusterSigningCA(cfg Config, ca *pki.CA) (func() (*pki.CA, error), error) {
	if cfg.ClusterSigningCertFile == "" && cfg.ClusterSigningKeyFile == "" {
		return func() (*pki.CA, error) { return ca, nil }, nil
	}
	if cfg.ClusterSigningCertFile == "" || cfg.ClusterSigningKeyFile == "" {
		return nil, errors.New("--cluster-signing-cert-file and --cluster-signing-key-file go together")
	}
	load := certificates.FileCA(cfg.ClusterSigningCertFile, cfg.ClusterSigningKeyFile)
	if _, err := load(); err != nil {
		return nil, fmt.Errorf("--cluster-signing-cert-file: %w", err)
	}
	return load, nil
}

// startDNS runs the cluster DNS server (informers on Services and EndpointSlices) on --dns-listen. It runs
// with the control plane, agent or not; with the agent and the service proxy it later also listens for pods
// on the pod gateway (see clusterdns.go). It returns nil when no DNS server runs. A default address that is
// taken only warns, so several servers can share a machine.
func startDNS(ctx context.Context, cfg Config, ids identities) (*clusterdns.Server, error) {
	if cfg.ClusterDNS != "" && net.ParseIP(cfg.ClusterDNS) == nil {
		return nil, fmt.Errorf("--cluster-dns %q is not an IP address", cfg.ClusterDNS)
	}
	if cfg.DNSListen == "" {
		return nil, nil
	}
	dnsCfg, err := ids.serviceAccount(metav1.NamespaceSystem, "kube-dns", "skiff-dns", 50)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(dnsCfg)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	srv, err := clusterdns.New(factory, clusterdns.Config{Zone: cfg.ClusterDomain, ResolvConf: cfg.DNSUpstreamResolvConf})
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(cfg.DNSListen); err != nil {
		if cfg.DNSListenExplicit {
			return nil, err
		}
		slog.Warn("cluster DNS not started (set --dns-listen)", "err", err)
		return nil, nil
	}
	factory.Start(ctx.Done())
	go func() {
		if err := srv.Serve(ctx); err != nil {
			slog.Error("cluster DNS stopped", "err", err)
		}
	}()
	return srv, nil
}

func clusterDNS(cfg Config) []string {
	if cfg.ClusterDNS == "" {
		return nil
	}
	return []string{cfg.ClusterDNS}
}

func shutdown(srv *http.Server) error {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Watches never finish on their own: after the grace time, close what is left.
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

func etcdDescription(cfg Config) string {
	if len(cfg.EtcdServers) > 0 {
		return fmt.Sprintf("external %v", cfg.EtcdServers)
	}
	return "embedded in " + filepath.Join(cfg.DataDir, "etcd")
}

func startEtcd(ctx context.Context, cfg Config) (*clientv3.Client, func(), error) {
	if len(cfg.EtcdServers) > 0 {
		cli, err := storage.NewClient(ctx, storage.ClientConfig{Endpoints: cfg.EtcdServers, CAFile: cfg.EtcdCAFile, CertFile: cfg.EtcdCertFile, Key: cfg.EtcdKeyFile})
		if err != nil {
			return nil, nil, err
		}
		return cli, func() { cli.Close() }, nil
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", cfg.EtcdClientPort)
	e, err := storage.StartEmbedded(storage.EmbeddedConfig{
		DataDir:   filepath.Join(cfg.DataDir, "etcd"),
		ClientURL: clientURL,
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", cfg.EtcdPeerPort),
	})
	if err != nil {
		return nil, nil, err
	}
	cli, err := storage.NewClient(ctx, storage.ClientConfig{Endpoints: []string{clientURL}})
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return cli, func() { cli.Close(); e.Close() }, nil
}

// loopbackConfig is the API server's own client (bootstrap objects, the kubernetes Service, the RBAC and
// authentication informers): a system:masters certificate, as upstream's loopback. Components get their own
// identities (identities.go).
func loopbackConfig(ctx context.Context, ca *pki.CA, server string) (*rest.Config, error) {
	m, err := newMemoryCert(ca, pki.Leaf{CommonName: "system:apiserver", Organization: []string{auth.GroupMasters}, Client: true})
	if err != nil {
		return nil, err
	}
	c, err := rotatingClientConfig(ctx, m, server, ca.CertPEM)
	if err != nil {
		return nil, err
	}
	c.QPS, c.Burst, c.UserAgent = 200, 400, "skiff-apiserver"
	return c, nil
}

func versionInfo() version.Info {
	return skiffversion.Info()
}

// withAgent copies a client config with its own user agent and rate limit, one per in-process component.
func withAgent(cfg *rest.Config, agent string, qps float32) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.UserAgent, c.QPS, c.Burst = agent, qps, int(qps)*2
	return c
}

// startProxy runs the service proxy: Services and EndpointSlices to the skiff-proxy nftables table. podsNet
// is the pod network (traffic from elsewhere is masqueraded).
func startProxy(ctx context.Context, ids identities, nodeName string, podsNet netip.Prefix) error {
	proxyCfg, err := ids.config("system:kube-proxy", nil, "skiff-proxy", 50)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(proxyCfg)
	if err != nil {
		return err
	}
	go proxy.New(client, proxy.Config{NodeName: nodeName, PodCIDR: podsNet}).Run(ctx)
	return nil
}

// servesPods says whether pods reach this node's cluster DNS through the kube-dns Service: it needs the
// DNS server, the agent with its pod network, the proxy and a --cluster-dns address.
func servesPods(cfg Config) bool {
	return cfg.ClusterDNS != "" && cfg.DNSListen != "" && !cfg.DisableAgent && !cfg.DisableProxy
}
