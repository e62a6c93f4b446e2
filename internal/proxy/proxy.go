package proxy

import (
	"context"
	"log/slog"
	"net/netip"
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
	// NodeName is this node's name: the Local traffic policies pick the endpoints on it.
	NodeName string
	// PodCIDR is the pods' network (see RenderConfig).
	PodCIDR netip.Prefix
	// Table is the nftables table (family ip) the proxy owns; default Table.
	Table string
	// MinSyncInterval is the least time between two syncs (default 150 ms): bursts of changes share one.
	MinSyncInterval time.Duration
	// ResyncInterval is how often a full sync rewrites the whole table even without changes (default
	// 10 min: with 5,000 Services one takes seconds), repairing outside edits; other syncs write only
	// what changed.
	ResyncInterval time.Duration
	// Apply runs an nft script (default: `nft -f -`). Tests inject their own.
	Apply func(ctx context.Context, script string) error
	// List reads the table's chains and sets before a full sync (default: ListTable).
	List func(ctx context.Context, table string) (Existing, error)
	// Flush deletes stale UDP conntrack entries after a sync (default: FlushConntrack).
	Flush func(ctx context.Context, f []Flush) error
	// Synced, when set, is called after each applied sync with the time the apply took and whether it
	// was a full one (benchmarks).
	Synced func(full bool, took time.Duration)
}

// Proxy keeps the skiff-proxy table in line with the API.
type Proxy struct {
	cfg      Config
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	dirty    chan struct{}
	computer *Computer
	applied  *Ruleset  // what the table holds now; nil: unknown (start, after an error), so sync in full
	prev     []Service // the Services behind applied
	warned   bool      // about a failing conntrack flush (logged once)
}

// New builds a Proxy on its own informers over client.
func New(client kubernetes.Interface, cfg Config) *Proxy {
	if cfg.MinSyncInterval == 0 {
		cfg.MinSyncInterval = 150 * time.Millisecond
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = 10 * time.Minute
	}
	if cfg.Table == "" {
		cfg.Table = Table
	}
	if cfg.Apply == nil {
		cfg.Apply = NFT
	}
	if cfg.List == nil {
		cfg.List = ListTable
	}
	if cfg.Flush == nil {
		cfg.Flush = FlushConntrack
	}
	f := informers.NewSharedInformerFactory(client, 0)
	p := &Proxy{cfg: cfg, factory: f, computer: NewComputer(RenderConfig{PodCIDR: cfg.PodCIDR}), services: f.Core().V1().Services().Lister(),
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
		full := false
		select {
		case <-ctx.Done():
			p.factory.Shutdown()
			return
		case <-p.dirty:
		case <-resync.C:
			full = true
		}
		if err := p.sync(ctx, full); err != nil && ctx.Err() == nil {
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

func (p *Proxy) sync(ctx context.Context, full bool) error {
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
	rs := p.computer.Compute(built)
	full = full || p.applied == nil
	var script string
	if full {
		ex, err := p.cfg.List(ctx, p.cfg.Table)
		if err != nil {
			return err
		}
		script = FullScript(p.cfg.Table, rs, ex)
	} else if script = DiffScript(p.cfg.Table, p.applied, rs); script == "" {
		return nil
	}
	start := time.Now()
	if err := p.cfg.Apply(ctx, script); err != nil {
		// The transaction changed nothing, but what the table holds is no longer known for sure.
		p.applied = nil
		return err
	}
	took := time.Since(start)
	p.applied = rs
	// Only once the new rules are in: a flushed flow's next datagram must meet them, not the old ones.
	if stale := StaleUDP(p.prev, built); len(stale) > 0 {
		if err := p.cfg.Flush(ctx, stale); err != nil && !p.warned {
			slog.Warn("service proxy: conntrack flush failed; stale UDP flows stay until they expire", "flows", len(stale), "err", err)
			p.warned = true
		}
	}
	p.prev = built
	if p.cfg.Synced != nil {
		p.cfg.Synced(full, took)
	}
	slog.Debug("service proxy synced", "services", len(built), "full", full, "took", took)
	return nil
}
