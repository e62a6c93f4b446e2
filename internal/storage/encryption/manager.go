package encryption

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/storage"
)

// Manager hands each resource a transformer that follows the current configuration, so a reload changes how
// every store writes and reads at once.
type Manager struct {
	path string
	cur  atomic.Pointer[Config]
}

// NewManager serves cfg, loaded from path (path is what Reload re-reads).
func NewManager(cfg *Config, path string) *Manager {
	m := &Manager{path: path}
	m.cur.Store(cfg)
	return m
}

// Path is the configuration file.
func (m *Manager) Path() string { return m.path }

// Config is the configuration in force.
func (m *Manager) Config() *Config { return m.cur.Load() }

// For returns gr's transformer.
func (m *Manager) For(gr schema.GroupResource) storage.Transformer { return dynamic{m: m, gr: gr} }

// Reload reads the file again and, when it changed and is valid, puts it in force. A bad file is reported
// and the configuration in force stays.
func (m *Manager) Reload() (changed bool, err error) {
	cfg, err := Load(m.path)
	if err != nil {
		return false, err
	}
	if cfg.Hash == m.cur.Load().Hash {
		return false, nil
	}
	m.cur.Store(cfg)
	return true, nil
}

// RunReload re-reads the file every interval until ctx ends (--encryption-provider-config-automatic-reload).
func (m *Manager) RunReload(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := m.Reload()
		if err != nil {
			slog.Error("encryption provider config not reloaded; the previous one stays in force", "path", m.path, "err", err)
		} else if changed {
			slog.Info("encryption provider config reloaded", "path", m.path)
		}
	}
}

type dynamic struct {
	m  *Manager
	gr schema.GroupResource
}

func (d dynamic) ToStorage(plain []byte, dataCtx string) ([]byte, error) {
	return d.m.cur.Load().For(d.gr).ToStorage(plain, dataCtx)
}

func (d dynamic) FromStorage(stored []byte, dataCtx string) ([]byte, bool, error) {
	return d.m.cur.Load().For(d.gr).FromStorage(stored, dataCtx)
}

func (d dynamic) MayBeStale() bool {
	t, ok := d.m.cur.Load().For(d.gr).(*transformer)
	return ok && t.MayBeStale()
}
