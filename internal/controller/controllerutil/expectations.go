package controllerutil

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// ExpectationsTTL bounds how long a controller waits for creations or deletions it made to show up in its
// informer before it trusts the cache again (upstream: 5 min).
const ExpectationsTTL = 5 * time.Minute

// Expectations remembers, per controller key, the pod creations and deletions issued but not yet seen in
// the informer, so a sync does not act twice on a stale cache (upstream's ControllerExpectations).
type Expectations struct {
	mu sync.Mutex
	m  map[string]*expected
}

type expected struct {
	adds    int
	deletes map[types.UID]bool
	at      time.Time
}

// NewExpectations returns empty expectations.
func NewExpectations() *Expectations { return &Expectations{m: map[string]*expected{}} }

// Satisfied reports that nothing is pending for key, or that what is pending is older than ExpectationsTTL;
// either way the key's record is dropped.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if (x.adds <= 0 && len(x.deletes) == 0) || time.Since(x.at) > ExpectationsTTL {
		delete(e.m, key)
		return true
	}
	return false
}

// Expect records adds creations and the deletions of the pods with these UIDs, and restarts the TTL.
func (e *Expectations) Expect(key string, adds int, deletes []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		x = &expected{deletes: map[types.UID]bool{}}
		e.m[key] = x
	}
	x.at = time.Now()
	x.adds += adds
	for _, u := range deletes {
		x.deletes[u] = true
	}
}

// CreationObserved counts one expected creation as seen.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved counts the deletion of the pod with uid as seen.
func (e *Expectations) DeletionObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, uid)
	}
}

// Forget drops everything expected for key (its object is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
