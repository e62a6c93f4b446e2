// Package manager runs skiff's controllers the way kube-controller-manager does: one leader at a time,
// elected through the kube-system/kube-controller-manager Lease; while leading, every registered controller
// starts on one shared informer factory and gets its own event recorder (core v1 events, component named as
// upstream's, e.g. "replicaset-controller"). Losing the lease stops them all; the next term starts afresh.
//
// Identities are upstream's with --use-service-account-credentials: the lease, the shared informers and the
// events use the manager's own client (system:kube-controller-manager: list/watch everything); each controller
// writes (and reads directly) with a client for its ServiceAccount kube-system/<ServiceAccount>, which RBAC's
// default system:controller:<ServiceAccount> role covers.
//
//	Lease ─▶ leading ─▶ Context{Client (controller's), Informers (shared), Recorder} ─▶ each Start ─▶ informers start
package manager

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"

	"skiff/internal/apiserver/registry"
	"skiff/internal/pki"
)

// Context is what a controller gets when its manager starts leading.
type Context struct {
	// Client and Config reach the API server as the controller's own identity (Config for dynamic or metadata
	// clients).
	Client kubernetes.Interface
	Config *rest.Config
	// Informers is shared by all controllers; the manager starts it after every Start returned.
	Informers informers.SharedInformerFactory
	// Resources are the served resources (for controllers that work across kinds).
	Resources []*registry.Resource
	// Options are the manager's tunables (timeouts tests shorten).
	Options Options

	broadcaster record.EventBroadcaster
}

// Recorder returns an event recorder for the named component ("deployment-controller", ...).
func (c *Context) Recorder(component string) record.EventRecorder {
	return c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

// Controller is one registered controller: Start sets up its informer handlers and starts its workers, which
// stop when ctx ends. Start must not block.
type Controller struct {
	Name string
	// ServiceAccount is the kube-system ServiceAccount the controller acts as (upstream's name).
	ServiceAccount string
	Start          func(ctx context.Context, cc *Context) error
}

// Options are tunables shared by controllers.
type Options struct {
	// RootCA is the cluster CA certificate (PEM) published to namespaces (kube-root-ca.crt) and put into
	// legacy token Secrets; the client configs carry no CA of their own (their transports verify the server).
	RootCA []byte
	// NodeMonitorGracePeriod is how long a node's Lease may go unrenewed before the node is NotReady/Unknown
	// (upstream: 40 s).
	NodeMonitorGracePeriod time.Duration
	// Disabled names controllers not to run.
	Disabled []string
	// ClusterCIDR, when set, is cut into /NodeCIDRMaskSize pod subnets for the nodes (the nodeipam controller).
	ClusterCIDR      netip.Prefix
	NodeCIDRMaskSize int
	// LegacyTokens signs the tokens of Secrets of type kubernetes.io/service-account-token (the API server's
	// service account key); nil disables the tokens controller.
	LegacyTokens func(sa *corev1.ServiceAccount, secretName string) (string, error)
	// SigningCA returns the CA that CertificateSigningRequests are signed with (nil: csrsigning does not run);
	// SigningDuration caps the certificates' lifetime.
	SigningCA       func() (*pki.CA, error)
	SigningDuration time.Duration
	// ApproveKubeletServing auto-approves nodes' kubelet-serving CSRs under skiff's rule (--auto-approve-kubelet-serving).
	ApproveKubeletServing bool
}

// Config configures the manager.
type Config struct {
	// RestConfig is the manager's own identity: leader election, shared informers, events.
	RestConfig *rest.Config
	// ControllerConfig, when set, returns the client config of a controller's ServiceAccount
	// (kube-system/<name>); when nil every controller uses RestConfig.
	ControllerConfig func(serviceAccount string) (*rest.Config, error)
	Resources        []*registry.Resource
	Options          Options
	// LeaseNamespace and LeaseName default to kube-system/kube-controller-manager.
	LeaseNamespace, LeaseName string
	// Identity names this manager in the Lease. A stable identity (the server passes one derived from its
	// host and data dir) lets a restarted server take its lease back at once instead of waiting it out.
	Identity string
}

// registered lists the controllers, in start order. Each controller package adds itself in controllers.go.
var registered []Controller

// Run competes for the lease and runs the controllers while leading, until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	client, err := kubernetes.NewForConfig(cfg.RestConfig)
	if err != nil {
		return err
	}
	if cfg.LeaseNamespace == "" {
		cfg.LeaseNamespace, cfg.LeaseName = metav1.NamespaceSystem, "kube-controller-manager"
	}
	if cfg.Options.NodeMonitorGracePeriod == 0 {
		cfg.Options.NodeMonitorGracePeriod = 40 * time.Second
	}
	id := cfg.Identity
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s_%s", host, uuid.NewString())
	}
	for ctx.Err() == nil {
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.LeaseNamespace, Name: cfg.LeaseName},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		}
		termCtx, cancel := context.WithCancel(ctx)
		leaderelection.RunOrDie(termCtx, leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			// The lease is not released on cancel: controllers stop asynchronously, and another server must
			// not start leading while this one's workers may still be mid-sync; it waits out the lease.
			ReleaseOnCancel: false, Name: cfg.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					slog.Info("controller manager leading", "identity", id)
					runControllers(lctx, client, cfg)
					<-lctx.Done()
				},
				OnStoppedLeading: func() { slog.Info("controller manager lost its lease", "identity", id) },
			},
		})
		cancel()
	}
	return nil
}

func runControllers(ctx context.Context, client kubernetes.Interface, cfg Config) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		broadcaster.Shutdown()
	}()
	cc := &Context{Client: client, Config: cfg.RestConfig, Informers: informers.NewSharedInformerFactory(client, 0),
		Resources: cfg.Resources, Options: cfg.Options, broadcaster: broadcaster}
	disabled := map[string]bool{}
	for _, d := range cfg.Options.Disabled {
		disabled[d] = true
	}
	for _, c := range registered {
		if disabled[c.Name] {
			continue
		}
		own, err := cc.forController(c, cfg.ControllerConfig)
		if err != nil {
			slog.Error("controller did not start", "controller", c.Name, "err", err)
			continue
		}
		if err := c.Start(ctx, own); err != nil {
			slog.Error("controller did not start", "controller", c.Name, "err", err)
			continue
		}
		slog.Debug("controller started", "controller", c.Name)
	}
	cc.Informers.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		cc.Informers.Shutdown()
	}()
}

// forController returns a copy of cc whose Client and Config are the controller's own identity.
func (c *Context) forController(ctrl Controller, configFor func(string) (*rest.Config, error)) (*Context, error) {
	if configFor == nil || ctrl.ServiceAccount == "" {
		return c, nil
	}
	cfg, err := configFor(ctrl.ServiceAccount)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	own := *c
	own.Client, own.Config = client, cfg
	return &own, nil
}
