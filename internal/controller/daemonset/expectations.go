package daemonset

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// expectationsTTL bounds how long the controller waits for its creations and deletions to show up in the
// informer before it trusts the cache again (upstream: 5 min).
const expectationsTTL = 5 * time.Minute

// expectations remembers, per DaemonSet, the pod creations and deletions issued but not yet seen in the
// informer, so a sync on a stale cache does not act twice (upstream's ControllerExpectations).
type expectations struct {
	mu sync.Mutex
	m  map[string]*expected
}

type expected struct {
	adds    int
	deletes map[types.UID]bool
	at      time.Time
}

func newExpectations() *expectations { return &expectations{m: map[string]*expected{}} }

func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if (x.adds <= 0 && len(x.deletes) == 0) || time.Since(x.at) > expectationsTTL {
		delete(e.m, key)
		return true
	}
	return false
}

func (e *expectations) get(key string) *expected {
	x, ok := e.m[key]
	if !ok {
		x = &expected{deletes: map[types.UID]bool{}}
		e.m[key] = x
	}
	x.at = time.Now()
	return x
}

func (e *expectations) expect(key string, adds int, deletes []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds += adds
	for _, u := range deletes {
		x.deletes[u] = true
	}
}

func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

func (e *expectations) deletionObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, uid)
	}
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
