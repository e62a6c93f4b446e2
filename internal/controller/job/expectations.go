package job

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/controller/controllerutil"
)

// expectations are, per Job, the pod creations and deletions issued but not yet observed
// (controllerutil.Expectations), and the pods whose tracking finalizer was removed but whose update the
// informer has not shown yet (upstream's finalizer expectations). Those outlive the pod expectations being
// satisfied; Forget drops both.
type expectations struct {
	*controllerutil.Expectations
	mu sync.Mutex
	// finalizers holds, per Job, pods whose finalizer removal is not yet observed; they are not counted again.
	finalizers map[string]map[types.UID]bool
}

func newExpectations() *expectations {
	return &expectations{Expectations: controllerutil.NewExpectations(), finalizers: map[string]map[types.UID]bool{}}
}

// Forget drops everything expected for the Job.
func (e *expectations) Forget(key string) {
	e.Expectations.Forget(key)
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.finalizers, key)
}

func (e *expectations) expectFinalizerRemoval(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.finalizers[key] == nil {
		e.finalizers[key] = map[types.UID]bool{}
	}
	e.finalizers[key][uid] = true
}

func (e *expectations) finalizerRemovalObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.finalizers[key], uid)
}

// pendingFinalizerRemovals returns a copy of the pods whose finalizer removal is not yet observed.
func (e *expectations) pendingFinalizerRemovals(key string) map[types.UID]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[types.UID]bool{}
	for u := range e.finalizers[key] {
		out[u] = true
	}
	return out
}
