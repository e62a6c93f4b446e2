package storage

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Event is one change seen on etcd, decoded. Objects are shared between watchers and must not be modified.
type Event struct {
	Type       watch.EventType
	Key        string
	Object     runtime.Object
	PrevObject runtime.Object
	RV         int64
}

// CacherConfig tunes a Cacher.
type CacherConfig struct {
	// HistorySize is how many events are kept for watches that resume from an older resourceVersion.
	HistorySize int
	// WatcherBuffer is how many events may queue for one slow watcher before it is closed.
	WatcherBuffer int
}

// Cacher keeps an in-memory copy of one resource, fed by a single etcd watch, and serves LIST and WATCH from it.
type Cacher struct {
	store *Store
	cfg   CacherConfig

	mu        sync.RWMutex
	items     map[string]runtime.Object
	rv        int64
	histStart int64 // events with RV > histStart are all in history
	history   []*Event
	watchers  map[*Watcher]struct{}
	changed   chan struct{} // closed and replaced each time rv moves
	ready     chan struct{}
	readyOnce sync.Once

	watchCtx context.Context // the etcd watch's context, to ask etcd for progress on that stream
}

// NewCacher makes a cacher over store; Run starts it.
func NewCacher(store *Store, cfg CacherConfig) *Cacher {
	if cfg.HistorySize <= 0 {
		cfg.HistorySize = 10000
	}
	if cfg.WatcherBuffer <= 0 {
		cfg.WatcherBuffer = 1000
	}
	return &Cacher{store: store, cfg: cfg, items: map[string]runtime.Object{}, watchers: map[*Watcher]struct{}{},
		changed: make(chan struct{}), ready: make(chan struct{})}
}

// Run loads the resource and follows it until ctx ends, reloading when the watch breaks.
func (c *Cacher) Run(ctx context.Context) {
	log := slog.With("resource", c.store.res.GroupResource.String())
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := c.reload(ctx)
		if err == nil {
			backoff = 100 * time.Millisecond
			err = c.follow(ctx, rev)
		}
		if ctx.Err() != nil {
			break
		}
		log.Warn("watch cache reloading", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	c.mu.Lock()
	for w := range c.watchers {
		c.stopLocked(w)
	}
	c.mu.Unlock()
}

// Ready is closed once the first load finished.
func (c *Cacher) Ready() <-chan struct{} { return c.ready }

func (c *Cacher) reload(ctx context.Context) (int64, error) {
	res, err := c.store.ListPage(ctx, c.store.res.Prefix, 0, "", 0, nil)
	if err != nil {
		return 0, err
	}
	items := make(map[string]runtime.Object, len(res.Items))
	for _, obj := range res.Items {
		items[c.store.keyOf(obj)] = obj
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Watchers cannot be told what they missed while the watch was broken: end them so clients re-watch.
	for w := range c.watchers {
		c.stopLocked(w)
	}
	c.items, c.history, c.histStart = items, nil, res.Revision
	c.setRVLocked(res.Revision)
	c.readyOnce.Do(func() { close(c.ready) })
	return res.Revision, nil
}

func (c *Cacher) follow(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	c.mu.Lock()
	c.watchCtx = wctx
	c.mu.Unlock()
	wch := c.store.client.Watch(wctx, c.store.res.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.IsProgressNotify() {
			c.mu.Lock()
			if resp.Header.Revision > c.rv {
				c.setRVLocked(resp.Header.Revision)
			}
			c.mu.Unlock()
			continue
		}
		evs := make([]*Event, 0, len(resp.Events))
		for _, ev := range resp.Events {
			e, err := c.decode(ev)
			if err != nil {
				slog.Error("watch cache: undecodable object skipped", "key", string(ev.Kv.Key), "err", err)
				continue
			}
			evs = append(evs, e)
		}
		c.apply(evs)
	}
	return fmt.Errorf("etcd watch closed")
}

func (c *Cacher) decode(ev *clientv3.Event) (*Event, error) {
	e := &Event{Key: string(ev.Kv.Key), RV: ev.Kv.ModRevision}
	var err error
	if ev.PrevKv != nil {
		if e.PrevObject, _, _, err = c.store.decode(string(ev.PrevKv.Key), ev.PrevKv.Value, ev.PrevKv.ModRevision); err != nil {
			return nil, err
		}
	}
	switch {
	case ev.Type == clientv3.EventTypeDelete:
		if e.PrevObject == nil {
			return nil, fmt.Errorf("delete without previous value")
		}
		e.Type = watch.Deleted
		e.Object = e.PrevObject.DeepCopyObject()
		err = SetRV(e.Object, ev.Kv.ModRevision)
	case ev.IsCreate():
		e.Type = watch.Added
		e.Object, _, _, err = c.store.decode(e.Key, ev.Kv.Value, ev.Kv.ModRevision)
	default:
		e.Type = watch.Modified
		e.Object, _, _, err = c.store.decode(e.Key, ev.Kv.Value, ev.Kv.ModRevision)
	}
	return e, err
}

func (c *Cacher) apply(evs []*Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range evs {
		if e.Type == watch.Deleted {
			delete(c.items, e.Key)
		} else {
			c.items[e.Key] = e.Object
		}
		c.history = append(c.history, e)
		if over := len(c.history) - c.cfg.HistorySize; over > 0 {
			c.histStart = c.history[over-1].RV
			c.history = slices.Delete(c.history, 0, over)
		}
		for w := range c.watchers {
			if !w.send(e) {
				c.stopLocked(w)
			}
		}
		if e.RV > c.rv {
			c.setRVLocked(e.RV)
		}
	}
}

func (c *Cacher) setRVLocked(rv int64) {
	c.rv = rv
	close(c.changed)
	c.changed = make(chan struct{})
}

// RV returns the revision the cache reflects.
func (c *Cacher) RV() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rv
}

// waitFresh blocks until the cache reflects at least rv (0: etcd's current revision, a consistent read).
func (c *Cacher) waitFresh(ctx context.Context, rv int64) error {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return apierrors.NewTimeoutError("watch cache not ready", 1)
	}
	if rv == 0 {
		cur, err := c.store.CurrentRevision(ctx)
		if err != nil {
			return err
		}
		rv = cur
	}
	deadline := time.NewTimer(3 * time.Second)
	defer deadline.Stop()
	asked := false
	for {
		c.mu.RLock()
		have, changed, wctx := c.rv, c.changed, c.watchCtx
		c.mu.RUnlock()
		if have >= rv {
			return nil
		}
		if !asked && wctx != nil {
			// Nothing may change in this resource for a long time: ask etcd to tell the watch where it is.
			_ = c.store.client.RequestProgress(wctx)
			asked = true
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
			asked = false
		case <-deadline.C:
			err := tooLargeRV()
			err.ErrStatus.Message = fmt.Sprintf("Too large resource version: %d, current: %d", rv, have)
			return err
		case <-ctx.Done():
			return apierrors.NewTimeoutError("request canceled while waiting for the watch cache", 1)
		}
	}
}

// List returns the matching objects under keyPrefix, sorted by key. minRV 0 with consistent=true waits for etcd's
// current revision; consistent=false serves whatever the cache holds (resourceVersion=0).
func (c *Cacher) List(ctx context.Context, keyPrefix string, pred Predicate, minRV int64, consistent bool) ([]runtime.Object, int64, error) {
	if consistent || minRV > 0 {
		if err := c.waitFresh(ctx, minRV); err != nil {
			return nil, 0, err
		}
	} else {
		select {
		case <-c.ready:
		case <-ctx.Done():
			return nil, 0, ctxError(ctx, "waiting for the watch cache")
		}
	}
	c.mu.RLock()
	keys := make([]string, 0, len(c.items))
	for k := range c.items {
		if strings.HasPrefix(k, keyPrefix) {
			keys = append(keys, k)
		}
	}
	out := make([]runtime.Object, 0, len(keys))
	slices.Sort(keys)
	for _, k := range keys {
		if obj := c.items[k]; pred == nil || pred(obj) {
			out = append(out, obj)
		}
	}
	rv := c.rv
	c.mu.RUnlock()
	return out, rv, nil
}

// Get returns the cached object at key, or nil.
func (c *Cacher) Get(ctx context.Context, key string) (runtime.Object, int64, error) {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, 0, ctxError(ctx, "waiting for the watch cache")
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.items[key], c.rv, nil
}

func (s *Store) keyOf(obj runtime.Object) string {
	ns, name := nsName(obj)
	return s.Key(ns, name)
}
