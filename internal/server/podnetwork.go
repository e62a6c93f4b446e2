package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/nodeipam"
	clusterdns "skiff/internal/dns"
	"skiff/internal/network/overlay"
)

// podNetwork is the parsed pod network configuration.
type podNetwork struct {
	// cluster is --cluster-cidr (invalid when ""): nodes' subnets come from it.
	cluster netip.Prefix
	// static is --pod-cidr (invalid when ""): this node's subnet, set at registration.
	static netip.Prefix
}

func parsePodNetwork(cfg Config) (podNetwork, error) {
	var pn podNetwork
	var err error
	if cfg.ClusterCIDR != "" {
		if pn.cluster, err = netip.ParsePrefix(cfg.ClusterCIDR); err != nil {
			return pn, fmt.Errorf("--cluster-cidr: %w", err)
		}
		if !pn.cluster.Addr().Is4() {
			return pn, fmt.Errorf("--cluster-cidr %s: only IPv4 pod networks are supported so far", cfg.ClusterCIDR)
		}
		if _, err := nodeipam.NewCIDRSet(pn.cluster, cfg.NodeCIDRMaskSize); err != nil {
			return pn, fmt.Errorf("--cluster-cidr/--node-cidr-mask-size: %w", err)
		}
	}
	if cfg.PodCIDR != "" {
		if pn.static, err = netip.ParsePrefix(cfg.PodCIDR); err != nil || !pn.static.Addr().Is4() {
			return pn, fmt.Errorf("--pod-cidr %q: not an IPv4 prefix", cfg.PodCIDR)
		}
		pn.static = pn.static.Masked()
		if pn.cluster.IsValid() && !pn.cluster.Overlaps(pn.static) {
			slog.Warn("--pod-cidr is outside --cluster-cidr: other nodes' pods will be masqueraded when they reach this node's Services", "podCIDR", pn.static, "clusterCIDR", pn.cluster)
		}
	}
	switch cfg.PodNetworkBackend {
	case "", "none", overlay.VXLAN, overlay.HostGW:
	default:
		return pn, fmt.Errorf("--pod-network-backend %q: want vxlan, host-gw or none", cfg.PodNetworkBackend)
	}
	if !cfg.DisableAgent && !pn.cluster.IsValid() && !pn.static.IsValid() {
		return pn, fmt.Errorf("the node agent needs a pod subnet: set --cluster-cidr or --pod-cidr")
	}
	return pn, nil
}

// startOverlay connects this node to the other nodes' pod subnets (--pod-network-backend).
func startOverlay(ctx context.Context, cfg Config, ids identities, nodeName string) error {
	if cfg.PodNetworkBackend == "none" || cfg.PodNetworkBackend == "" {
		// What an earlier run with an overlay left would route other nodes' subnets nowhere.
		if err := overlay.RemoveAll(overlay.DefaultDevice); err != nil {
			slog.Warn("removing the pod network overlay", "err", err)
		}
		return nil
	}
	overlayCfg, err := ids.config("system:skiff:overlay", nil, "skiff-overlay", 20)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(overlayCfg)
	if err != nil {
		return err
	}
	go func() {
		if err := overlay.Run(ctx, client, overlay.Config{NodeName: nodeName, Backend: cfg.PodNetworkBackend}); err != nil {
			slog.Error("pod network overlay stopped", "err", err)
		}
	}()
	return nil
}

// staticString is --pod-cidr in canonical form ("" when not set).
func (pn podNetwork) staticString() string {
	if !pn.static.IsValid() {
		return ""
	}
	return pn.static.String()
}

// podsNet is what the service proxy counts as pod traffic: the cluster CIDR, or this node's subnet when
// there is none.
func (pn podNetwork) podsNet() netip.Prefix {
	if pn.cluster.IsValid() {
		return pn.cluster
	}
	return pn.static
}

// onPodCIDR is the agent's hook once its pod subnet is known: with a DNS server and the proxy, pods get the
// cluster DNS on the subnet's gateway (see clusterdns.go). It returns the nameservers for ClusterFirst pods.
// When pods are served, *podsDNSAddr is set to where their DNS traffic lands (read after the agent is ready).
func onPodCIDR(cfg Config, client kubernetes.Interface, dns *clusterdns.Server, nodeName string, podsDNSAddr *string) func(context.Context, netip.Prefix) ([]string, error) {
	return func(ctx context.Context, podCIDR netip.Prefix) ([]string, error) {
		podDNS := clusterDNS(cfg)
		if dns == nil || !servesPods(cfg) {
			if cfg.ClusterDNSExplicit {
				return podDNS, nil
			}
			return nil, nil // the default --cluster-dns only helps when this node serves it
		}
		addr, err := servePodsDNS(ctx, cfg, client, dns, podCIDR, nodeName)
		switch {
		case err == nil:
			*podsDNSAddr = addr
			return podDNS, nil
		case cfg.ClusterDNSExplicit && cfg.DNSListenExplicit:
			return nil, err
		case cfg.ClusterDNSExplicit:
			slog.Warn("cluster DNS not reachable from pods", "err", err)
			return podDNS, nil
		default:
			slog.Warn("cluster DNS not reachable from pods; they get the host's resolv.conf", "err", err)
			return nil, nil
		}
	}
}

// servePodsDNS makes the DNS server answer on the pod gateway and points the kube-dns Service there.
func servePodsDNS(ctx context.Context, cfg Config, client kubernetes.Interface, dns *clusterdns.Server, podCIDR netip.Prefix, nodeName string) (string, error) {
	addr, err := dnsPodsAddress(cfg, podCIDR)
	if err != nil {
		return "", err
	}
	if err := dns.ListenPods(addr); err != nil {
		return "", err
	}
	if err := bootstrapDNSService(ctx, client, cfg.ClusterDNS, addr, nodeName); err != nil {
		return "", fmt.Errorf("the kube-dns Service: %w", err)
	}
	// Kept in place: the slice goes with its Node (a deleted and re-registered Node), or is removed or changed
	// by hand, as is the Service; watches on the three objects bring it back.
	go keepDNSService(ctx, client, cfg.ClusterDNS, addr, nodeName)
	return addr, nil
}

// keepDNSService re-ensures the kube-dns Service and this node's EndpointSlice whenever either, or this
// Node, changes: three watches, each narrowed to one object by a field selector.
func keepDNSService(ctx context.Context, client kubernetes.Interface, ip, addr, nodeName string) {
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	kick := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { queue.Add("ensure") },
		UpdateFunc: func(any, any) { queue.Add("ensure") },
		DeleteFunc: func(any) { queue.Add("ensure") },
	}
	named := func(name string, opts ...informers.SharedInformerOption) informers.SharedInformerFactory {
		return informers.NewSharedInformerFactoryWithOptions(client, 0, append(opts, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))...)
	}
	svcs := named("kube-dns", informers.WithNamespace(metav1.NamespaceSystem))
	slices := named("kube-dns-"+nodeName, informers.WithNamespace(metav1.NamespaceSystem))
	nodes := named(nodeName)
	for _, inf := range []cache.SharedIndexInformer{svcs.Core().V1().Services().Informer(),
		slices.Discovery().V1().EndpointSlices().Informer(), nodes.Core().V1().Nodes().Informer()} {
		if _, err := inf.AddEventHandler(kick); err != nil {
			slog.Warn("the kube-dns Service watch", "err", err)
			return
		}
	}
	for _, f := range []informers.SharedInformerFactory{svcs, slices, nodes} {
		f.Start(ctx.Done())
	}
	for {
		key, quit := queue.Get()
		if quit {
			return
		}
		if err := bootstrapDNSService(ctx, client, ip, addr, nodeName); err != nil && ctx.Err() == nil {
			slog.Warn("the kube-dns Service and this node's endpoint", "err", err)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}
