package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// expectationsTTL bounds how long a sync waits for its own creates and deletes to reach the informer before
// trusting the cache again (upstream: 5 min).
const expectationsTTL = 5 * time.Minute

// expectations remembers, per Job, the pod creations and deletions issued but not yet observed, and the
// pods whose tracking finalizer was removed but whose update the informer has not shown yet (upstream's
// ControllerExpectations and finalizer expectations).
type expectations struct {
	mu sync.Mutex
	m  map[string]*expected
}

type expected struct {
	adds    int
	deletes map[types.UID]bool
	at      time.Time
	// finalizers holds pods whose finalizer removal is not yet observed; they are not counted again.
	finalizers map[types.UID]bool
}

func newExpectations() *expectations { return &expectations{m: map[string]*expected{}} }

func (e *expectations) get(key string) *expected {
	x, ok := e.m[key]
	if !ok {
		x = &expected{deletes: map[types.UID]bool{}, finalizers: map[types.UID]bool{}}
		e.m[key] = x
	}
	return x
}

// satisfied: no pod creation or deletion is pending (or the pending ones are too old to wait for).
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	if time.Since(x.at) > expectationsTTL {
		x.adds, x.deletes = 0, map[types.UID]bool{}
		return true
	}
	return false
}

func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds += n
	x.at = time.Now()
}

func (e *expectations) expectDeletion(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.deletes[uid] = true
	x.at = time.Now()
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

func (e *expectations) expectFinalizerRemoval(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).finalizers[uid] = true
}

func (e *expectations) finalizerRemovalObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.finalizers, uid)
	}
}

// pendingFinalizerRemovals returns a copy of the pods whose finalizer removal is not yet observed.
func (e *expectations) pendingFinalizerRemovals(key string) map[types.UID]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[types.UID]bool{}
	if x, ok := e.m[key]; ok {
		for u := range x.finalizers {
			out[u] = true
		}
	}
	return out
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
