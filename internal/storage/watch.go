package storage

import (
	"context"

	"fmt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// InitialEventsAnnotation marks the bookmark that ends the initial events of a sendInitialEvents watch.
const InitialEventsAnnotation = "k8s.io/initial-events-end"

// WatchOptions says what a watch wants.
type WatchOptions struct {
	// KeyPrefix limits the watch to keys under it (a namespace, or one object's key).
	KeyPrefix string
	Pred      Predicate
	// RV resumes after this revision. With SendInitial it is the minimum revision of the initial state.
	RV int64
	// SendInitial starts the watch with synthetic ADDED events for the current state.
	SendInitial bool
	// Consistent makes the initial state at least as new as etcd's current revision.
	Consistent bool
	// Bookmarks allows BOOKMARK events; InitialEventsEnd sends the one that closes the initial events.
	Bookmarks        bool
	InitialEventsEnd bool
}

// Watch starts a watch served from the cache. A resume point older than the kept history gets 410 Gone.
func (c *Cacher) Watch(ctx context.Context, opts WatchOptions) (watch.Interface, error) {
	if opts.Consistent && opts.RV == 0 {
		if err := c.waitFresh(ctx, 0); err != nil {
			return nil, err
		}
	} else if opts.RV > 0 {
		if err := c.waitFresh(ctx, opts.RV); err != nil {
			return nil, err
		}
	} else {
		select {
		case <-c.ready:
		case <-ctx.Done():
			return nil, ctxError(ctx, "waiting for the watch cache")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var initial []*Event
	if opts.SendInitial {
		keys := make([]string, 0)
		for k := range c.items {
			if strings.HasPrefix(k, opts.KeyPrefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			obj := c.items[k]
			initial = append(initial, &Event{Type: watch.Added, Key: k, Object: obj})
		}
	} else {
		if opts.RV < c.histStart {
			// Older than what the cache remembers (say, a client resuming after a server restart): etcd still
			// has the history unless it was compacted, so this watch reads it from etcd.
			return c.watchEtcdLocked(ctx, opts), nil
		}
		for _, e := range c.history {
			if e.RV > opts.RV {
				initial = append(initial, e)
			}
		}
	}
	w := &Watcher{
		opts:    opts,
		in:      make(chan *Event, c.cfg.WatcherBuffer),
		out:     make(chan watch.Event, 100),
		done:    make(chan struct{}),
		newFunc: c.store.res.NewFunc,
		startRV: c.rv,
	}
	c.watchers[w] = struct{}{}
	w.cacher = c
	go w.run(initial)
	return w, nil
}

func (c *Cacher) stopLocked(w *Watcher) {
	delete(c.watchers, w)
	w.stopOnce.Do(func() { close(w.done) })
}

// RunBookmarks sends each bookmark-accepting watcher the cache's revision every interval, so clients can resume
// from a recent revision even when nothing they watch changes.
func (c *Cacher) RunBookmarks(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.RLock()
		wctx, n := c.watchCtx, len(c.watchers)
		c.mu.RUnlock()
		if n == 0 {
			continue
		}
		if wctx != nil {
			_ = c.store.client.RequestProgress(wctx)
		}
		c.mu.Lock()
		e := &Event{Type: watch.Bookmark, RV: c.rv}
		for w := range c.watchers {
			if w.opts.Bookmarks && !w.send(e) {
				c.stopLocked(w)
			}
		}
		c.mu.Unlock()
	}
}

// Watcher is one client's watch on a Cacher.
type Watcher struct {
	cacher   *Cacher
	opts     WatchOptions
	in       chan *Event
	out      chan watch.Event
	done     chan struct{}
	stopOnce sync.Once
	newFunc  func() runtime.Object
	startRV  int64
}

// send queues e without blocking; false means the watcher is too slow and must go.
func (w *Watcher) send(e *Event) bool {
	select {
	case w.in <- e:
		return true
	default:
		return false
	}
}

// Stop ends the watch.
func (w *Watcher) Stop() {
	w.cacher.mu.Lock()
	w.cacher.stopLocked(w)
	w.cacher.mu.Unlock()
}

// ResultChan delivers the events; it is closed when the watch ends.
func (w *Watcher) ResultChan() <-chan watch.Event { return w.out }

func (w *Watcher) run(initial []*Event) {
	defer close(w.out)
	for _, e := range initial {
		if !w.deliver(e) {
			return
		}
	}
	if w.opts.InitialEventsEnd && w.opts.Bookmarks {
		bm := w.bookmark(w.startRV)
		if acc, err := meta.Accessor(bm); err == nil {
			acc.SetAnnotations(map[string]string{InitialEventsAnnotation: "true"})
		}
		if !w.emit(watch.Event{Type: watch.Bookmark, Object: bm}) {
			return
		}
	}
	for {
		select {
		case <-w.done:
			return
		case e, ok := <-w.in:
			if !ok || !w.deliver(e) {
				return
			}
		}
	}
}

// bookmark is an empty object of the watched kind carrying only a resourceVersion.
func (w *Watcher) bookmark(rv int64) runtime.Object {
	bm := w.newFunc()
	bm.GetObjectKind().SetGroupVersionKind(w.cacher.store.res.StorageGVK)
	_ = SetRV(bm, rv)
	return bm
}

func (w *Watcher) deliver(e *Event) bool {
	if e.Type == watch.Error {
		return w.emit(watch.Event{Type: watch.Error, Object: e.Object})
	}
	if e.Type == watch.Bookmark {
		return w.emit(watch.Event{Type: watch.Bookmark, Object: w.bookmark(e.RV)})
	}
	if !strings.HasPrefix(e.Key, w.opts.KeyPrefix) {
		return true
	}
	match := func(o runtime.Object) bool { return o != nil && (w.opts.Pred == nil || w.opts.Pred(o)) }
	cur := e.Type != watch.Deleted && match(e.Object)
	prev := match(e.PrevObject)
	if e.Type == watch.Added {
		prev = false
	}
	switch {
	case e.Type == watch.Deleted && prev:
		return w.emit(watch.Event{Type: watch.Deleted, Object: e.Object})
	case cur && prev:
		return w.emit(watch.Event{Type: watch.Modified, Object: e.Object})
	case cur:
		return w.emit(watch.Event{Type: watch.Added, Object: e.Object})
	case prev:
		// The object left the selection: to this watcher it is gone, as it last matched, at this revision.
		gone := e.PrevObject.DeepCopyObject()
		_ = SetRV(gone, e.RV)
		return w.emit(watch.Event{Type: watch.Deleted, Object: gone})
	}
	return true
}

func (w *Watcher) emit(ev watch.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-w.done:
		return false
	}
}

func nsName(obj runtime.Object) (string, string) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return "", ""
	}
	return acc.GetNamespace(), acc.GetName()
}

// watchEtcdLocked serves a watch straight from etcd's history, from opts.RV on. The watcher is not registered
// with the cache; it ends when etcd's watch does, with a 410 Expired error event if the history is compacted.
func (c *Cacher) watchEtcdLocked(ctx context.Context, opts WatchOptions) *Watcher {
	w := &Watcher{opts: opts, in: make(chan *Event, c.cfg.WatcherBuffer), out: make(chan watch.Event, 100),
		done: make(chan struct{}), newFunc: c.store.res.NewFunc, cacher: c}
	wctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		// Closing in (not done) lets run deliver what is queued, the error event included, before it ends.
		defer close(w.in)
		// Its own gRPC stream: etcd withholds progress notifications from a stream while any of its watchers
		// is catching up, and the cache relies on those.
		sctx := metadata.AppendToOutgoingContext(clientv3.WithRequireLeader(wctx), "skiff-watch-stream", "history")
		wch := c.store.client.Watch(sctx, opts.KeyPrefix, clientv3.WithPrefix(),
			clientv3.WithRev(opts.RV+1), clientv3.WithPrevKV())
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if resp.CompactRevision != 0 || isCompacted(err) {
					st := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", opts.RV, resp.CompactRevision)).ErrStatus
					st.Kind, st.APIVersion = "Status", "v1"
					select {
					case w.in <- &Event{Type: watch.Error, Object: &st}:
					case <-w.done:
					}
				}
				return
			}
			for _, ev := range resp.Events {
				e, err := c.decode(ev)
				if err != nil {
					continue
				}
				select {
				case w.in <- e:
				case <-w.done:
					return
				default:
					// Too slow a reader: end the watch (the client resumes from its last revision) rather than
					// buffer without bound.
					return
				}
			}
		}
	}()
	go w.run(nil)
	return w
}
