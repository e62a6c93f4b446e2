package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Config configures a Proxy.
type Config struct {
	// NodeName is this node's name: externalTrafficPolicy Local picks the endpoints on it.
	NodeName string
	// PodCIDR is the pods' network (see RenderConfig).
	PodCIDR netip.Prefix
	// MinSyncInterval is the least time between two syncs (default 150 ms): bursts of changes share one.
	MinSyncInterval time.Duration
	// ResyncInterval re-applies the table even without changes (default 1 min), repairing outside edits.
	ResyncInterval time.Duration
	// Apply runs an nft script (default: `nft -f -`). Tests inject their own.
	Apply func(ctx context.Context, script string) error
	// Flush deletes stale UDP conntrack entries after a sync (default: FlushConntrack).
	Flush func(ctx context.Context, f Flush) error
}

// Proxy keeps the skiff-proxy table in line with the API.
type Proxy struct {
	cfg      Config
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	dirty    chan struct{}
	last     string
	prev     []Service // what the table holds now
	warned   bool      // about a missing conntrack tool
}

// New builds a Proxy on its own informers over client.
func New(client kubernetes.Interface, cfg Config) *Proxy {
	if cfg.MinSyncInterval == 0 {
		cfg.MinSyncInterval = 150 * time.Millisecond
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = time.Minute
	}
	if cfg.Apply == nil {
		cfg.Apply = NFT
	}
	if cfg.Flush == nil {
		cfg.Flush = FlushConntrack
	}
	f := informers.NewSharedInformerFactory(client, 0)
	p := &Proxy{cfg: cfg, factory: f, services: f.Core().V1().Services().Lister(),
		slices: f.Discovery().V1().EndpointSlices().Lister(), dirty: make(chan struct{}, 1)}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.markDirty() },
		UpdateFunc: func(any, any) { p.markDirty() },
		DeleteFunc: func(any) { p.markDirty() },
	}
	_, _ = f.Core().V1().Services().Informer().AddEventHandler(h)
	_, _ = f.Discovery().V1().EndpointSlices().Informer().AddEventHandler(h)
	return p
}

func (p *Proxy) markDirty() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends. The first sync waits for the informers, so it rebuilds the whole table from
// the API (nothing is kept across restarts).
func (p *Proxy) Run(ctx context.Context) {
	p.factory.Start(ctx.Done())
	p.factory.WaitForCacheSync(ctx.Done())
	resync := time.NewTicker(p.cfg.ResyncInterval)
	defer resync.Stop()
	p.markDirty()
	for {
		force := false
		select {
		case <-ctx.Done():
			p.factory.Shutdown()
			return
		case <-p.dirty:
		case <-resync.C:
			force = true
		}
		if err := p.sync(ctx, force); err != nil && ctx.Err() == nil {
			slog.Error("service proxy sync failed", "err", err)
			time.AfterFunc(time.Second, p.markDirty)
		}
		// Debounce: changes arriving meanwhile wait in p.dirty for one later sync.
		select {
		case <-ctx.Done():
		case <-time.After(p.cfg.MinSyncInterval):
		}
	}
}

func (p *Proxy) sync(ctx context.Context, force bool) error {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return err
	}
	all, err := p.slices.List(labels.Everything())
	if err != nil {
		return err
	}
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, es := range all {
		if name := es.Labels[discoveryv1.LabelServiceName]; name != "" {
			bySvc[es.Namespace+"/"+name] = append(bySvc[es.Namespace+"/"+name], es)
		}
	}
	built := Build(p.cfg.NodeName, svcs, bySvc)
	script := Render(RenderConfig{PodCIDR: p.cfg.PodCIDR}, built)
	if script == p.last && !force {
		return nil
	}
	start := time.Now()
	if err := p.cfg.Apply(ctx, script); err != nil {
		return err
	}
	p.last = script
	// Only once the new rules are in: a flushed flow's next datagram must meet them, not the old ones.
	for _, f := range StaleUDP(p.prev, built) {
		if err := p.cfg.Flush(ctx, f); err != nil {
			if errors.Is(err, ErrNoConntrackTool) && !p.warned {
				slog.Warn("service proxy: no conntrack tool, stale UDP flows to removed endpoints stay until they expire")
				p.warned = true
			} else if !errors.Is(err, ErrNoConntrackTool) {
				slog.Warn("service proxy: conntrack flush", "vip", f.VIP.String(), "err", err)
			}
		}
	}
	p.prev = built
	slog.Debug("service proxy synced", "services", len(built), "took", time.Since(start))
	return nil
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

// DeleteTable removes the proxy's table, if there is one.
func DeleteTable(ctx context.Context) error {
	return NFT(ctx, fmt.Sprintf("table ip %s\ndelete table ip %s\n", Table, Table))
}
