package nodelifecycle

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Upstream's DisruptionTarget condition for pods the taint eviction controller deletes.
const (
	reasonDeletionByTaintManager  = "DeletionByTaintManager"
	messageDeletionByTaintManager = "Taint manager: deleting due to NoExecute taint"
)

// podUpdate names a pod and the node it was on when it changed.
type podUpdate struct {
	pod      types.NamespacedName
	nodeName string
}

// TaintEviction is the taint eviction controller (upstream's NoExecute taint manager).
type TaintEviction struct {
	client     kubernetes.Interface
	recorder   record.EventRecorder
	nodeLister corelisters.NodeLister
	podLister  corelisters.PodLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced
	nodeQueue  workqueue.TypedInterface[string]
	podQueue   workqueue.TypedInterface[podUpdate]
	now        func() time.Time

	// mu serializes the handling of node and pod updates.
	mu sync.Mutex
	// tainted holds the NoExecute taints of nodes that have some.
	tainted   map[string][]corev1.Taint
	evictions *timedWorkers
}

// StartTaintEviction sets up the taint eviction controller on the shared informers and starts its workers,
// which stop when ctx ends.
func StartTaintEviction(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	tc, err := newTaintEviction(ctx, client, factory, recorder)
	if err != nil {
		return err
	}
	go tc.run(ctx)
	return nil
}

func newTaintEviction(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) (*TaintEviction, error) {
	nodeInf := factory.Core().V1().Nodes()
	podInf := factory.Core().V1().Pods()
	if err := addPodsByNodeIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	tc := &TaintEviction{client: client, recorder: recorder, nodeLister: nodeInf.Lister(), podLister: podInf.Lister(),
		podIndexer: podInf.Informer().GetIndexer(),
		synced:     []cache.InformerSynced{nodeInf.Informer().HasSynced, podInf.Informer().HasSynced},
		nodeQueue:  workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: "noexec_taint_node"}),
		podQueue:   workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[podUpdate]{Name: "noexec_taint_pod"}),
		now:        time.Now, tainted: map[string][]corev1.Taint{}}
	tc.evictions = newTimedWorkers(ctx, tc.deletePod)
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { tc.podUpdated(nil, asPod(obj)) },
		UpdateFunc: func(old, obj any) { tc.podUpdated(asPod(old), asPod(obj)) },
		DeleteFunc: func(obj any) { tc.podUpdated(asPod(obj), nil) },
	}); err != nil {
		return nil, err
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { tc.nodeUpdated(nil, asNode(obj)) },
		UpdateFunc: func(old, obj any) { tc.nodeUpdated(asNode(old), asNode(obj)) },
		DeleteFunc: func(obj any) { tc.nodeUpdated(asNode(obj), nil) },
	}); err != nil {
		return nil, err
	}
	return tc, nil
}

func asPod(obj any) *corev1.Pod {
	p, _ := unwrap(obj).(*corev1.Pod)
	return p
}

func asNode(obj any) *corev1.Node {
	n, _ := unwrap(obj).(*corev1.Node)
	return n
}

// podUpdated queues a pod whose node or tolerations changed (or that came or went).
func (tc *TaintEviction) podUpdated(old, cur *corev1.Pod) {
	if old != nil && cur != nil && old.Spec.NodeName == cur.Spec.NodeName &&
		apiequality.Semantic.DeepEqual(old.Spec.Tolerations, cur.Spec.Tolerations) {
		return
	}
	p := cur
	if p == nil {
		p = old
	}
	if p == nil {
		return
	}
	var node string
	if cur != nil {
		node = cur.Spec.NodeName
	}
	tc.podQueue.Add(podUpdate{pod: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, nodeName: node})
}

// nodeUpdated queues a node whose NoExecute taints changed (or that came or went).
func (tc *TaintEviction) nodeUpdated(old, cur *corev1.Node) {
	var oldTaints, curTaints []corev1.Taint
	name := ""
	if old != nil {
		oldTaints, name = noExecuteTaints(old.Spec.Taints), old.Name
	}
	if cur != nil {
		curTaints, name = noExecuteTaints(cur.Spec.Taints), cur.Name
	}
	if old != nil && cur != nil && apiequality.Semantic.DeepEqual(oldTaints, curTaints) {
		return
	}
	if name != "" {
		tc.nodeQueue.Add(name)
	}
}

func (tc *TaintEviction) run(ctx context.Context) {
	defer tc.nodeQueue.ShutDown()
	defer tc.podQueue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), tc.synced...) {
		return
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for {
			name, quit := tc.nodeQueue.Get()
			if quit {
				return
			}
			tc.handleNodeUpdate(ctx, name)
			tc.nodeQueue.Done(name)
		}
	}, time.Second)
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for {
			u, quit := tc.podQueue.Get()
			if quit {
				return
			}
			tc.handlePodUpdate(ctx, u)
			tc.podQueue.Done(u)
		}
	}, time.Second)
	<-ctx.Done()
	tc.evictions.cancelAll()
}

func (tc *TaintEviction) handleNodeUpdate(_ context.Context, name string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	node, err := tc.nodeLister.Get(name)
	if err != nil {
		// Gone: its pods are the pod garbage collector's.
		delete(tc.tainted, name)
		return
	}
	taints := noExecuteTaints(node.Spec.Taints)
	if len(taints) == 0 {
		delete(tc.tainted, name)
	} else {
		tc.tainted[name] = taints
	}
	pods := podsOnNode(tc.podIndexer, name)
	if len(taints) == 0 {
		for _, p := range pods {
			tc.cancelWithEvent(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
		}
		return
	}
	now := tc.now()
	for _, p := range pods {
		tc.processPodOnNode(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, p.Spec.Tolerations, taints, now)
	}
}

func (tc *TaintEviction) handlePodUpdate(_ context.Context, u podUpdate) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	pod, err := tc.podLister.Pods(u.pod.Namespace).Get(u.pod.Name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			tc.cancelWithEvent(u.pod)
		}
		return
	}
	if pod.Spec.NodeName != u.nodeName || u.nodeName == "" {
		// A later update is queued, or the pod is not bound.
		return
	}
	taints, ok := tc.tainted[u.nodeName]
	if !ok {
		return
	}
	tc.processPodOnNode(u.pod, pod.Spec.Tolerations, taints, tc.now())
}

// processPodOnNode schedules (or cancels) the pod's deletion for the node's NoExecute taints, as upstream:
// at once if one is not tolerated, after the smallest tolerationSeconds of the tolerations used, or never.
func (tc *TaintEviction) processPodOnNode(pod types.NamespacedName, tolerations []corev1.Toleration, taints []corev1.Taint, now time.Time) {
	if len(taints) == 0 {
		tc.cancelWithEvent(pod)
		return
	}
	allTolerated, used := matchingTolerations(taints, tolerations)
	if !allTolerated {
		tc.cancelWithEvent(pod)
		tc.evictions.add(pod, now, now)
		return
	}
	minToleration := minTolerationTime(used)
	if minToleration < 0 {
		tc.cancelWithEvent(pod)
		return
	}
	start, trigger := now, now.Add(minToleration)
	if scheduled := tc.evictions.get(pod); scheduled != nil {
		start = scheduled.createdAt
		if start.Add(minToleration).Before(trigger) {
			return
		}
		tc.cancelWithEvent(pod)
	}
	tc.evictions.add(pod, start, trigger)
}

func (tc *TaintEviction) cancelWithEvent(pod types.NamespacedName) {
	if tc.evictions.cancel(pod) {
		tc.recorder.Eventf(podRef(pod), corev1.EventTypeNormal, "TaintManagerEviction", "Cancelling deletion of Pod %s", pod)
	}
}

func podRef(pod types.NamespacedName) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace}
}

// deletePod marks the pod DisruptionTarget and deletes it (normal, graceful delete), retrying a few times.
func (tc *TaintEviction) deletePod(ctx context.Context, pod types.NamespacedName) error {
	tc.recorder.Eventf(podRef(pod), corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", pod)
	var err error
	for i := 0; i < 5; i++ {
		if err = tc.conditionAndDelete(ctx, pod); err == nil || apierrors.IsNotFound(err) || ctx.Err() != nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	slog.Warn("taint eviction: deleting pod", "pod", pod.String(), "err", err)
	return err
}

func (tc *TaintEviction) conditionAndDelete(ctx context.Context, name types.NamespacedName) error {
	pod, err := tc.client.CoreV1().Pods(name.Namespace).Get(ctx, name.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: reasonDeletionByTaintManager, Message: messageDeletionByTaintManager}, tc.now()) {
		if _, err := tc.client.CoreV1().Pods(name.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return tc.client.CoreV1().Pods(name.Namespace).Delete(ctx, name.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
}

// setPodCondition sets or adds the condition (a new transition time when the status changes); it reports
// whether anything changed.
func setPodCondition(status *corev1.PodStatus, cond corev1.PodCondition, now time.Time) bool {
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != cond.Type {
			continue
		}
		if old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message {
			return false
		}
		if old.Status != cond.Status {
			old.LastTransitionTime = metav1.NewTime(now)
		}
		old.Status, old.Reason, old.Message = cond.Status, cond.Reason, cond.Message
		return true
	}
	cond.LastTransitionTime = metav1.NewTime(now)
	status.Conditions = append(status.Conditions, cond)
	return true
}

// matchingTolerations reports whether every taint is tolerated, and the tolerations that do it (the first
// match per taint).
func matchingTolerations(taints []corev1.Taint, tolerations []corev1.Toleration) (bool, []corev1.Toleration) {
	if len(taints) == 0 {
		return true, nil
	}
	if len(tolerations) == 0 {
		return false, nil
	}
	var used []corev1.Toleration
	for i := range taints {
		found := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(klog.Logger{}, &taints[i], false) {
				used = append(used, tolerations[j])
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, used
}

// minTolerationTime is the smallest tolerationSeconds of the tolerations (0 when any is ≤ 0), or -1 when none
// is limited (tolerated forever).
func minTolerationTime(tolerations []corev1.Toleration) time.Duration {
	if len(tolerations) == 0 {
		return 0
	}
	m := int64(math.MaxInt64)
	for _, t := range tolerations {
		if t.TolerationSeconds == nil {
			continue
		}
		if *t.TolerationSeconds <= 0 {
			return 0
		}
		m = min(m, *t.TolerationSeconds)
	}
	if m == math.MaxInt64 {
		return -1
	}
	return time.Duration(m) * time.Second
}

// timedWorkers is upstream's TimedWorkerQueue: one timer per pod that deletes it when it fires. A fired
// entry stays (nil) so a repeated request does not delete twice, until cancelled.
type timedWorkers struct {
	ctx     context.Context
	fn      func(context.Context, types.NamespacedName) error
	mu      sync.Mutex
	workers map[types.NamespacedName]*timedWorker
}

type timedWorker struct {
	createdAt, fireAt time.Time
	timer             *time.Timer
	cancel            context.CancelFunc
}

func newTimedWorkers(ctx context.Context, fn func(context.Context, types.NamespacedName) error) *timedWorkers {
	return &timedWorkers{ctx: ctx, fn: fn, workers: map[types.NamespacedName]*timedWorker{}}
}

func (q *timedWorkers) add(key types.NamespacedName, createdAt, fireAt time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, exists := q.workers[key]; exists {
		return
	}
	ctx, cancel := context.WithCancel(q.ctx)
	w := &timedWorker{createdAt: createdAt, fireAt: fireAt, cancel: cancel}
	fire := func() {
		err := q.fn(ctx, key)
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.workers[key] != w {
			return
		}
		if err == nil {
			q.workers[key] = nil
		} else {
			delete(q.workers, key)
		}
	}
	if d := time.Until(fireAt); d > 0 {
		w.timer = time.AfterFunc(d, fire)
	} else {
		go fire()
	}
	q.workers[key] = w
}

// get returns the pending worker for key, or nil.
func (q *timedWorkers) get(key types.NamespacedName) *timedWorker {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.workers[key]
}

// cancel stops and forgets key's worker; it reports whether one was pending.
func (q *timedWorkers) cancel(key types.NamespacedName) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	w, ok := q.workers[key]
	if !ok {
		return false
	}
	delete(q.workers, key)
	if w == nil {
		return false
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.cancel()
	return true
}

func (q *timedWorkers) cancelAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, w := range q.workers {
		if w != nil {
			if w.timer != nil {
				w.timer.Stop()
			}
			w.cancel()
		}
		delete(q.workers, k)
	}
}
