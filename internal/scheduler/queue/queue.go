package queue

import (
	"container/heap"
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"skiff/internal/scheduler/framework"
)

// Timing, as upstream's defaults.
const (
	InitialBackoff          = 1 * time.Second
	MaxBackoff              = 10 * time.Second
	MaxInUnschedulablePods  = 5 * time.Minute
	flushBackoffInterval    = 1 * time.Second
	flushUnschedulableEvery = 30 * time.Second
)

// inFlightState records what happened to a pod while it was being scheduled.
type inFlightState struct {
	// latest is the newest version seen by Update (nil: none).
	latest *corev1.Pod
	// deleted: the pod was deleted or bound elsewhere; it must not come back.
	deleted bool
}

// QueuedPodInfo is a pod in the queue with its scheduling history.
type QueuedPodInfo struct {
	*framework.PodInfo
	// Timestamp is when it was last added; InitialAttempt when first popped.
	Timestamp      time.Time
	InitialAttempt time.Time
	Attempts       int
	// UnschedulablePlugins rejected it in its last attempt; only events they registered move it back.
	UnschedulablePlugins sets.Set[string]
	backoffUntil         time.Time
	index                int
}

// Queue is the scheduling queue.
type Queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    func() time.Time
	active *podHeap
	// backoff is ordered by backoff expiry.
	backoff       *podHeap
	unschedulable map[types.UID]*QueuedPodInfo
	// byUID finds a pod in whichever part holds it.
	byUID map[types.UID]*QueuedPodInfo
	// inFlight are popped pods being scheduled; events during their cycle send them to backoff, not to
	// unschedulable, so no wake-up is lost.
	inFlight  map[types.UID]*inFlightState
	moveCycle int64
	cycle     int64
	// pluginEvents says which events each plugin registered.
	pluginEvents map[string][]framework.ClusterEvent
	closed       bool
	// nominated indexes pods nominated to a node by preemption (status.nominatedNodeName) until they are bound
	// or deleted.
	nominated map[string]map[types.UID]*corev1.Pod
	nodeOf    map[types.UID]string
}

// New returns a queue; pluginEvents maps plugin names to the events that can help pods they rejected.
func New(now func() time.Time, pluginEvents map[string][]framework.ClusterEvent) *Queue {
	if now == nil {
		now = time.Now
	}
	q := &Queue{now: now, unschedulable: map[types.UID]*QueuedPodInfo{}, byUID: map[types.UID]*QueuedPodInfo{},
		inFlight: map[types.UID]*inFlightState{}, pluginEvents: pluginEvents,
		nominated: map[string]map[types.UID]*corev1.Pod{}, nodeOf: map[types.UID]string{}}
	q.active = &podHeap{less: func(a, b *QueuedPodInfo) bool {
		pa, pb := priority(a.Pod), priority(b.Pod)
		if pa != pb {
			return pa > pb
		}
		return a.Timestamp.Before(b.Timestamp)
	}}
	q.backoff = &podHeap{less: func(a, b *QueuedPodInfo) bool { return a.backoffUntil.Before(b.backoffUntil) }}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// Run flushes expired backoffs and long-unschedulable pods until ctx ends, then closes the queue.
func (q *Queue) Run(ctx context.Context) {
	backoffTick := time.NewTicker(flushBackoffInterval)
	unschedTick := time.NewTicker(flushUnschedulableEvery)
	defer backoffTick.Stop()
	defer unschedTick.Stop()
	for {
		select {
		case <-ctx.Done():
			q.Close()
			return
		case <-backoffTick.C:
			q.flushBackoff()
		case <-unschedTick.C:
			q.flushUnschedulable()
		}
	}
}

// Close wakes Pop callers, which then return nil.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// Add queues a new pending pod.
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.byUID[pod.UID]; ok {
		q.updateLocked(old, pod)
		return
	}
	qp := &QueuedPodInfo{PodInfo: framework.NewPodInfo(pod), Timestamp: q.now()}
	q.byUID[pod.UID] = qp
	q.nominateLocked(pod, pod.Status.NominatedNodeName)
	heap.Push(q.active, qp)
	q.cond.Signal()
}

// Update replaces a queued pod; an unschedulable pod whose spec changed gets another try.
func (q *Queue) Update(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.byUID[pod.UID]; ok {
		q.updateLocked(old, pod)
		return
	}
	if st, ok := q.inFlight[pod.UID]; ok {
		st.latest = pod
		return
	}
	qp := &QueuedPodInfo{PodInfo: framework.NewPodInfo(pod), Timestamp: q.now()}
	q.byUID[pod.UID] = qp
	heap.Push(q.active, qp)
	q.cond.Signal()
}

func (q *Queue) updateLocked(qp *QueuedPodInfo, pod *corev1.Pod) {
	qp.PodInfo = framework.NewPodInfo(pod)
	if pod.Status.NominatedNodeName != "" {
		q.nominateLocked(pod, pod.Status.NominatedNodeName)
	}
	switch {
	case qp.index >= 0 && q.active.contains(qp):
		heap.Fix(q.active, qp.index)
	case qp.index >= 0 && q.backoff.contains(qp):
		heap.Fix(q.backoff, qp.index)
	default:
		if _, ok := q.unschedulable[pod.UID]; ok {
			delete(q.unschedulable, pod.UID)
			q.requeueLocked(qp)
		}
	}
}

// Delete drops a pod (deleted, or bound by someone else).
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nominateLocked(pod, "")
	if st, ok := q.inFlight[pod.UID]; ok {
		st.deleted = true
	}
	qp, ok := q.byUID[pod.UID]
	if !ok {
		return
	}
	delete(q.byUID, pod.UID)
	delete(q.unschedulable, pod.UID)
	if q.active.contains(qp) {
		heap.Remove(q.active, qp.index)
	} else if q.backoff.contains(qp) {
		heap.Remove(q.backoff, qp.index)
	}
}

// Pop blocks until a pod is active and returns it, or nil once the queue is closed. The returned pod is in
// flight until Done.
func (q *Queue) Pop() *QueuedPodInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	qp := heap.Pop(q.active).(*QueuedPodInfo)
	delete(q.byUID, qp.Pod.UID)
	qp.Attempts++
	if qp.InitialAttempt.IsZero() {
		qp.InitialAttempt = q.now()
	}
	q.cycle++
	q.inFlight[qp.Pod.UID] = &inFlightState{}
	return qp
}

// SchedulingCycle returns the number of pops so far.
func (q *Queue) SchedulingCycle() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cycle
}

// Done ends the in-flight period of a popped pod (scheduled, or handed back with AddUnschedulable).
func (q *Queue) Done(uid types.UID) {
	q.mu.Lock()
	delete(q.inFlight, uid)
	q.mu.Unlock()
}

// AddUnschedulable hands back a pod that could not be scheduled in the cycle that started at cycle. If a
// cluster event arrived meanwhile, it goes to backoff (the event may have helped); otherwise it waits in
// unschedulable for a relevant event. Errors (not rejections) always go to backoff.
func (q *Queue) AddUnschedulable(qp *QueuedPodInfo, cycle int64, isError bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.inFlight[qp.Pod.UID]
	delete(q.inFlight, qp.Pod.UID)
	if _, ok := q.byUID[qp.Pod.UID]; ok {
		return // re-added by an update meanwhile
	}
	if st != nil && st.deleted {
		q.nominateLocked(qp.Pod, "")
		return // deleted or bound while it was being scheduled
	}
	updated := st != nil && st.latest != nil
	if updated {
		qp.PodInfo = framework.NewPodInfo(st.latest)
	}
	qp.Timestamp = q.now()
	q.byUID[qp.Pod.UID] = qp
	if isError || updated || q.moveCycle >= cycle {
		q.backoffLocked(qp)
		return
	}
	q.unschedulable[qp.Pod.UID] = qp
}

func (q *Queue) backoffDuration(qp *QueuedPodInfo) time.Duration {
	d := InitialBackoff
	for i := 1; i < qp.Attempts; i++ {
		d *= 2
		if d >= MaxBackoff {
			return MaxBackoff
		}
	}
	return d
}

func (q *Queue) backoffLocked(qp *QueuedPodInfo) {
	qp.backoffUntil = qp.Timestamp.Add(q.backoffDuration(qp))
	heap.Push(q.backoff, qp)
}

// requeueLocked sends a pod that left unschedulable to backoff if it is still backing off, else to active.
func (q *Queue) requeueLocked(qp *QueuedPodInfo) {
	if q.now().Before(qp.Timestamp.Add(q.backoffDuration(qp))) {
		q.backoffLocked(qp)
		return
	}
	heap.Push(q.active, qp)
	q.cond.Signal()
}

// MoveOnEvent moves unschedulable pods that the event may help back to active or backoff.
func (q *Queue) MoveOnEvent(ev framework.ClusterEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle = q.cycle
	for uid, qp := range q.unschedulable {
		if q.helps(qp, ev) {
			delete(q.unschedulable, uid)
			q.requeueLocked(qp)
		}
	}
}

func (q *Queue) helps(qp *QueuedPodInfo, ev framework.ClusterEvent) bool {
	if len(qp.UnschedulablePlugins) == 0 {
		return true
	}
	for plugin := range qp.UnschedulablePlugins {
		evs, ok := q.pluginEvents[plugin]
		if !ok {
			return true // a plugin that registered nothing may be helped by anything
		}
		for _, e := range evs {
			if e.Resource == ev.Resource && e.ActionType&ev.ActionType != 0 {
				return true
			}
		}
	}
	return false
}

func (q *Queue) flushBackoff() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for q.backoff.Len() > 0 && !q.backoff.items[0].backoffUntil.After(now) {
		qp := heap.Pop(q.backoff).(*QueuedPodInfo)
		heap.Push(q.active, qp)
		q.cond.Signal()
	}
}

func (q *Queue) flushUnschedulable() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for uid, qp := range q.unschedulable {
		if now.Sub(qp.Timestamp) > MaxInUnschedulablePods {
			delete(q.unschedulable, uid)
			q.requeueLocked(qp)
		}
	}
}

// Len returns how many pods are in each part (active, backoff, unschedulable).
func (q *Queue) Len() (int, int, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// NominatedPods lists pods that preemption nominated to a node (they reserve room there).
func (q *Queue) NominatedPods(node string) []*corev1.Pod {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.nominated[node]
	if len(m) == 0 {
		return nil
	}
	out := make([]*corev1.Pod, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

// Nominate records (node != "") or clears (node == "") a pod's nomination. A pod deleted while in flight is
// never nominated.
func (q *Queue) Nominate(pod *corev1.Pod, node string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if st, ok := q.inFlight[pod.UID]; ok && st.deleted && node != "" {
		return
	}
	q.nominateLocked(pod, node)
}

// Refresh replaces a queued pod's object without moving it (status-only changes, such as the scheduler's own
// condition and nominatedNodeName updates).
func (q *Queue) Refresh(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.byUID[pod.UID]; ok {
		qp.PodInfo = framework.NewPodInfo(pod)
	} else if st, ok := q.inFlight[pod.UID]; ok && st.latest != nil {
		st.latest = pod
	}
}

func (q *Queue) nominateLocked(pod *corev1.Pod, node string) {
	if old, ok := q.nodeOf[pod.UID]; ok {
		delete(q.nominated[old], pod.UID)
		if len(q.nominated[old]) == 0 {
			delete(q.nominated, old)
		}
		delete(q.nodeOf, pod.UID)
	}
	if node == "" {
		return
	}
	if q.nominated[node] == nil {
		q.nominated[node] = map[types.UID]*corev1.Pod{}
	}
	q.nominated[node][pod.UID] = pod
	q.nodeOf[pod.UID] = node
}

type podHeap struct {
	items []*QueuedPodInfo
	less  func(a, b *QueuedPodInfo) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*QueuedPodInfo)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items) - 1
	qp := h.items[n]
	h.items = h.items[:n]
	qp.index = -1
	return qp
}
func (h *podHeap) contains(qp *QueuedPodInfo) bool {
	return qp.index >= 0 && qp.index < len(h.items) && h.items[qp.index] == qp
}
