package nodelifecycle

import (
	"sync"
	"time"

	"k8s.io/client-go/util/flowcontrol"
)

// evictionBurst is upstream's burst for the per-zone NoExecute tainting limiter.
const evictionBurst = 1

// zoneQueue is upstream's RateLimitedTimedQueue: a set of nodes waiting for a NoExecute taint, handed out in
// order at most as fast as the zone's limiter allows.
type zoneQueue struct {
	mu      sync.Mutex
	items   []queued
	qps     float32
	limiter flowcontrol.RateLimiter
}

type queued struct {
	name, uid string
	processAt time.Time
}

func newZoneQueue(qps float32) *zoneQueue {
	q := &zoneQueue{}
	q.qps, q.limiter = qps, newLimiter(qps)
	return q
}

func newLimiter(qps float32) flowcontrol.RateLimiter {
	if qps <= 0 {
		return flowcontrol.NewFakeNeverRateLimiter()
	}
	return flowcontrol.NewTokenBucketRateLimiter(qps, evictionBurst)
}

// add queues a node unless it is queued already; it reports whether it was added.
func (q *zoneQueue) add(name, uid string, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, it := range q.items {
		if it.name == name {
			return false
		}
	}
	q.items = append(q.items, queued{name: name, uid: uid, processAt: now})
	return true
}

// remove drops a node; it reports whether it was queued.
func (q *zoneQueue) remove(name string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, it := range q.items {
		if it.name == name {
			q.items = append(q.items[:i], q.items[i+1:]...)
			return true
		}
	}
	return false
}

// try hands due nodes to fn while the limiter allows; fn returns false and a delay to keep a node for later.
func (q *zoneQueue) try(now time.Time, fn func(name, uid string) (bool, time.Duration)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) > 0 {
		// The earliest due node first (the first queued among equals).
		i := 0
		for j := range q.items {
			if q.items[j].processAt.Before(q.items[i].processAt) {
				i = j
			}
		}
		head := q.items[i]
		if now.Before(head.processAt) {
			return
		}
		if !q.limiter.TryAccept() {
			return
		}
		q.items = append(q.items[:i:i], q.items[i+1:]...)
		if ok, wait := fn(head.name, head.uid); !ok {
			head.processAt = now.Add(wait + 1)
			q.items = append(q.items, head)
		}
	}
}

// swapLimiter changes the rate, as upstream: a limiter that had no token left leaves the new one drained too.
func (q *zoneQueue) swapLimiter(qps float32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.qps == qps {
		return
	}
	next := newLimiter(qps)
	if qps > 0 && !q.limiter.TryAccept() {
		next.TryAccept()
	}
	q.limiter.Stop()
	q.qps, q.limiter = qps, next
}
