package policy

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// Config configures a Controller.
type Config struct {
	// NodeName is this node's name: policies are enforced for the pods bound to it.
	NodeName string
	// DNS is this node's cluster DNS as pods reach it (nil: none; see DNS).
	DNS *DNS
	// MinSyncInterval is the least time between two syncs (default 150 ms): bursts of changes share one.
	MinSyncInterval time.Duration
	// ResyncInterval re-applies the table even without changes (default 1 min), repairing outside edits.
	ResyncInterval time.Duration
	// Apply runs an nft script (default: `nft -f -`). Tests inject their own.
	Apply func(ctx context.Context, script string) error
}

// Controller keeps the skiff-policy table in line with the API.
type Controller struct {
	cfg        Config
	factory    informers.SharedInformerFactory
	policies   networkinglisters.NetworkPolicyLister
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	dirty      chan struct{}
	last       string
}

// New builds a Controller on its own informers over client.
func New(client kubernetes.Interface, cfg Config) *Controller {
	if cfg.MinSyncInterval == 0 {
		cfg.MinSyncInterval = 150 * time.Millisecond
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = time.Minute
	}
	if cfg.Apply == nil {
		cfg.Apply = NFT
	}
	f := informers.NewSharedInformerFactory(client, 0)
	c := &Controller{cfg: cfg, factory: f, policies: f.Networking().V1().NetworkPolicies().Lister(),
		pods: f.Core().V1().Pods().Lister(), namespaces: f.Core().V1().Namespaces().Lister(), dirty: make(chan struct{}, 1)}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.markDirty() },
		UpdateFunc: func(any, any) { c.markDirty() },
		DeleteFunc: func(any) { c.markDirty() },
	}
	_, _ = f.Networking().V1().NetworkPolicies().Informer().AddEventHandler(h)
	_, _ = f.Core().V1().Namespaces().Informer().AddEventHandler(h)
	// Pods change status often; only what the model reads wakes a sync.
	_, _ = f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.markDirty() },
		UpdateFunc: func(o, n any) {
			op, ok1 := o.(*corev1.Pod)
			np, ok2 := n.(*corev1.Pod)
			if !ok1 || !ok2 || podChanged(op, np) {
				c.markDirty()
			}
		},
		DeleteFunc: func(any) { c.markDirty() },
	})
	return c
}

func (c *Controller) markDirty() {
	select {
	case c.dirty <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends. The first sync waits for the informers, so it rebuilds the whole table from
// the API (nothing is kept across restarts).
func (c *Controller) Run(ctx context.Context) {
	if b, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil || strings.TrimSpace(string(b)) != "1" {
		slog.Warn("network policy: bridge-nf-call-iptables is not 1, so traffic between pods on the same bridge is not filtered")
	}
	c.factory.Start(ctx.Done())
	c.factory.WaitForCacheSync(ctx.Done())
	resync := time.NewTicker(c.cfg.ResyncInterval)
	defer resync.Stop()
	c.markDirty()
	for {
		force := false
		select {
		case <-ctx.Done():
			c.factory.Shutdown()
			return
		case <-c.dirty:
		case <-resync.C:
			force = true
		}
		if err := c.sync(ctx, force); err != nil && ctx.Err() == nil {
			slog.Error("network policy sync failed", "err", err)
			time.AfterFunc(time.Second, c.markDirty)
		}
		// Debounce: changes arriving meanwhile wait in c.dirty for one later sync.
		select {
		case <-ctx.Done():
		case <-time.After(c.cfg.MinSyncInterval):
		}
	}
}

func (c *Controller) sync(ctx context.Context, force bool) error {
	pols, err := c.policies.List(labels.Everything())
	if err != nil {
		return err
	}
	in := Input{Policies: pols, DNS: c.cfg.DNS, Namespaces: map[string]map[string]string{}}
	// Without policies nothing is isolated: the pods need not be looked at.
	if len(pols) > 0 {
		pods, err := c.pods.List(labels.Everything())
		if err != nil {
			return err
		}
		for _, p := range pods {
			if mp, ok := PodFrom(p, c.cfg.NodeName); ok {
				in.Pods = append(in.Pods, mp)
			}
		}
		nss, err := c.namespaces.List(labels.Everything())
		if err != nil {
			return err
		}
		for _, ns := range nss {
			in.Namespaces[ns.Name] = ns.Labels
		}
	}
	m := Build(in)
	script := Render(m)
	if script == c.last && !force {
		return nil
	}
	start := time.Now()
	if err := c.cfg.Apply(ctx, script); err != nil {
		return err
	}
	c.last = script
	slog.Debug("network policy synced", "policies", len(pols), "ingressIsolated", len(m.Ingress), "egressIsolated", len(m.Egress), "took", time.Since(start))
	return nil
}

// PodFrom returns what the model needs of a pod; ok is false for pods policies do not apply to: without
// an IPv4 address yet, on the host network, or finished (their address may already be someone else's).
func PodFrom(p *corev1.Pod, nodeName string) (Pod, bool) {
	if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return Pod{}, false
	}
	var ip netip.Addr
	for _, a := range p.Status.PodIPs {
		if x, err := netip.ParseAddr(a.IP); err == nil && x.Is4() {
			ip = x
			break
		}
	}
	if !ip.IsValid() {
		if x, err := netip.ParseAddr(p.Status.PodIP); err == nil && x.Is4() {
			ip = x
		}
	}
	if !ip.IsValid() {
		return Pod{}, false
	}
	mp := Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, IP: ip, Local: p.Spec.NodeName == nodeName}
	for _, ct := range p.Spec.Containers {
		mp.Ports = append(mp.Ports, ct.Ports...)
	}
	return mp, true
}

// podChanged says whether an update changes anything PodFrom reads.
func podChanged(o, n *corev1.Pod) bool {
	oldPod, oldOK := PodFrom(o, "")
	newPod, newOK := PodFrom(n, "")
	return oldOK != newOK || o.Spec.NodeName != n.Spec.NodeName || !reflect.DeepEqual(oldPod, newPod)
}

// NFT applies a script with `nft -f -` (one atomic transaction).
func NFT(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft -f: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// DeleteTable removes the controller's table, if there is one.
func DeleteTable(ctx context.Context) error {
	return NFT(ctx, fmt.Sprintf("table inet %s\ndelete table inet %s\n", Table, Table))
}
