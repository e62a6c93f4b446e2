package storage

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// EmbeddedConfig configures the etcd that runs inside skiff server.
type EmbeddedConfig struct {
	DataDir string
	// ClientURL is where the embedded etcd listens for clients (loopback only by default).
	ClientURL string
	PeerURL   string
}

// StartEmbedded starts an etcd member in cfg.DataDir and waits until it serves. Close the returned server to stop it.
func StartEmbedded(cfg EmbeddedConfig) (*embed.Etcd, error) {
	ec := embed.NewConfig()
	ec.Dir = cfg.DataDir
	ec.Name = "skiff"
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cu, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcd client url: %w", err)
	}
	pu, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("etcd peer url: %w", err)
	}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	ec.InitialCluster = ec.Name + "=" + pu.String()
	// Watch caches rely on progress notifications to learn the revision when their resource is quiet.
	ec.WatchProgressNotifyInterval = 5 * time.Second
	ec.ListenMetricsUrls = nil
	// Room for the largest object the API accepts (3 MiB bodies) plus the transaction around it.
	ec.MaxRequestBytes = 4 << 20
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready in 60s")
	}
}

// ClientConfig says how to reach etcd.
type ClientConfig struct {
	Endpoints             []string
	CAFile, CertFile, Key string
	DialTimeout           time.Duration
}

// NewClient connects to etcd and checks that it answers.
func NewClient(ctx context.Context, cfg ClientConfig) (*clientv3.Client, error) {
	var tlsCfg *tls.Config
	if cfg.CAFile != "" || cfg.CertFile != "" {
		info := transport.TLSInfo{TrustedCAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.Key}
		var err error
		if tlsCfg, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("etcd tls: %w", err)
		}
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		TLS:         tlsCfg,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
		// Objects up to the API's 3 MiB body limit must fit in a request.
		MaxCallSendMsgSize: 8 << 20,
		MaxCallRecvMsgSize: 512 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := cli.Get(cctx, "health-check-skiff"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd %v not reachable: %w", cfg.Endpoints, err)
	}
	return cli, nil
}

// RunCompactor compacts etcd every interval to the revision seen one interval before, as upstream's apiserver
// does: watches and paged lists younger than one interval keep working.
func RunCompactor(ctx context.Context, cli *clientv3.Client, interval time.Duration) {
	var last int64
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp, err := cli.Get(ctx, "compact_rev_key", clientv3.WithCountOnly())
		if err != nil {
			continue
		}
		if last > 0 {
			if _, err := cli.Compact(ctx, last); err != nil && !isCompacted(err) {
				slog.Warn("etcd compaction failed", "revision", last, "err", err)
			}
		}
		last = resp.Header.Revision
	}
}
