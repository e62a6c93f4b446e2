package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Options are the node lifecycle controller's tunables; zero values take upstream's defaults.
type Options struct {
	// NodeMonitorGracePeriod is how long a node may go without a Lease renewal or Ready heartbeat before its
	// conditions turn Unknown (upstream --node-monitor-grace-period: 40 s).
	NodeMonitorGracePeriod time.Duration
	// NodeStartupGracePeriod is the same for a node that never posted a Ready condition, counted from its
	// creation (default: NodeMonitorGracePeriod).
	NodeStartupGracePeriod time.Duration
	// NodeMonitorPeriod is how often node health is checked (default: NodeMonitorGracePeriod/8, at least 1 s;
	// upstream: 5 s).
	NodeMonitorPeriod time.Duration
	// EvictionLimiterQPS is how many nodes per second get a NoExecute taint per healthy zone (upstream
	// --node-eviction-rate: 0.1); SecondaryEvictionLimiterQPS is the rate in a partially disrupted zone larger
	// than LargeClusterThreshold nodes (0.01; smaller zones stop), and a zone is partially disrupted when more
	// than two and at least UnhealthyZoneThreshold of its nodes are not ready (0.55).
	EvictionLimiterQPS          float32
	SecondaryEvictionLimiterQPS float32
	LargeClusterThreshold       int
	UnhealthyZoneThreshold      float32
	// Now is the clock (tests replace it).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.NodeMonitorGracePeriod <= 0 {
		o.NodeMonitorGracePeriod = 40 * time.Second
	}
	if o.NodeStartupGracePeriod <= 0 {
		o.NodeStartupGracePeriod = o.NodeMonitorGracePeriod
	}
	if o.NodeMonitorPeriod <= 0 {
		o.NodeMonitorPeriod = max(o.NodeMonitorGracePeriod/8, time.Second)
	}
	if o.EvictionLimiterQPS <= 0 {
		o.EvictionLimiterQPS = 0.1
	}
	if o.SecondaryEvictionLimiterQPS <= 0 {
		o.SecondaryEvictionLimiterQPS = 0.01
	}
	if o.LargeClusterThreshold <= 0 {
		o.LargeClusterThreshold = 50
	}
	if o.UnhealthyZoneThreshold <= 0 {
		o.UnhealthyZoneThreshold = 0.55
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Upstream's reasons and messages for conditions the controller sets.
const (
	reasonStatusUnknown      = "NodeStatusUnknown"
	messageStatusUnknown     = "Kubelet stopped posting node status."
	reasonStatusNeverUpdated = "NodeStatusNeverUpdated"
	messageNeverUpdated      = "Kubelet never posted node status."
	// excludeDisruptionLabel keeps a node out of its zone's disruption count.
	excludeDisruptionLabel = "node.kubernetes.io/exclude-disruption"
	// nodeEvictionPeriod is how often the NoExecute tainting queues are served.
	nodeEvictionPeriod = 100 * time.Millisecond
	// podsByNodeIndex indexes the shared pod informer by spec.nodeName.
	podsByNodeIndex = "skiff.nodelifecycle/spec.nodeName"
)

type zoneState string

const (
	stateInitial           zoneState = "Initial"
	stateNormal            zoneState = "Normal"
	stateFullDisruption    zoneState = "FullDisruption"
	statePartialDisruption zoneState = "PartialDisruption"
)

// nodeHealth is what the controller last saw of a node, and when (its own clock, as upstream, so skewed node
// clocks do not matter).
type nodeHealth struct {
	status                   *corev1.NodeStatus
	probeTimestamp           time.Time
	readyTransitionTimestamp time.Time
	lease                    *coordinationv1.Lease
}

// Controller is the node lifecycle controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	opts     Options

	nodeLister  corelisters.NodeLister
	leaseLister coordlisters.LeaseLister
	podLister   corelisters.PodLister
	podIndexer  cache.Indexer
	synced      []cache.InformerSynced

	// nodeQueue holds nodes whose NoSchedule taints to reconcile; podQueue pods newly bound to a node.
	nodeQueue workqueue.TypedRateLimitingInterface[string]
	podQueue  workqueue.TypedRateLimitingInterface[types.NamespacedName]

	healthMu sync.Mutex
	health   map[string]*nodeHealth

	// knownNodes is only touched by the monitor loop.
	knownNodes map[string]*corev1.Node
	// nodesToRetry are nodes whose pods could not all be marked not ready.
	nodesToRetry sync.Map

	evictorMu   sync.Mutex
	zoneStates  map[string]zoneState
	zoneTainter map[string]*zoneQueue
}

// Start sets up the node lifecycle controller on the shared informers and starts its loops, which stop when
// ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) error {
	c, err := newController(client, factory, recorder, opts)
	if err != nil {
		return err
	}
	go c.run(ctx)
	return nil
}

func newController(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	opts.defaults()
	nodeInf := factory.Core().V1().Nodes()
	leaseInf := factory.Coordination().V1().Leases()
	podInf := factory.Core().V1().Pods()
	if err := addPodsByNodeIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	c := &Controller{client: client, recorder: recorder, opts: opts,
		nodeLister: nodeInf.Lister(), leaseLister: leaseInf.Lister(), podLister: podInf.Lister(), podIndexer: podInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		nodeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node_lifecycle_controller"}),
		podQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
			workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: "node_lifecycle_controller_pods"}),
		health: map[string]*nodeHealth{}, knownNodes: map[string]*corev1.Node{},
		zoneStates: map[string]zoneState{}, zoneTainter: map[string]*zoneQueue{}}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNode(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNode(obj) },
		DeleteFunc: func(obj any) {
			if n, ok := unwrap(obj).(*corev1.Node); ok {
				c.nodesToRetry.Delete(n.Name)
			}
		},
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.podUpdated(nil, obj) },
		UpdateFunc: func(old, obj any) {
			c.podUpdated(old, obj)
		},
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// addPodsByNodeIndex indexes the pod informer by node name, once for both controllers of this package.
func addPodsByNodeIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[podsByNodeIndex]; ok {
		return nil
	}
	return inf.AddIndexers(cache.Indexers{podsByNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
}

func podsOnNode(indexer cache.Indexer, node string) []*corev1.Pod {
	objs, _ := indexer.ByIndex(podsByNodeIndex, node)
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods
}

func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (c *Controller) enqueueNode(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.nodeQueue.Add(n.Name)
	}
}

// podUpdated queues a pod that was just bound (or moved) to a node.
func (c *Controller) podUpdated(old, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return
	}
	if o, ok := old.(*corev1.Pod); ok && o.Spec.NodeName == p.Spec.NodeName {
		return
	}
	c.podQueue.Add(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
}

func (c *Controller) run(ctx context.Context) {
	defer c.nodeQueue.ShutDown()
	defer c.podQueue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for c.processNextNode(ctx) {
		}
	}, time.Second)
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for c.processNextPod(ctx) {
		}
	}, time.Second)
	go wait.UntilWithContext(ctx, c.doNoExecuteTaintingPass, nodeEvictionPeriod)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := c.monitorNodeHealth(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("node health monitor", "err", err)
		}
	}, c.opts.NodeMonitorPeriod)
}

func (c *Controller) processNextNode(ctx context.Context) bool {
	name, quit := c.nodeQueue.Get()
	if quit {
		return false
	}
	defer c.nodeQueue.Done(name)
	if err := c.doNoScheduleTaintingPass(ctx, name); err != nil {
		if ctx.Err() == nil {
			slog.Warn("node taints", "node", name, "err", err)
		}
		c.nodeQueue.AddRateLimited(name)
		return true
	}
	c.nodeQueue.Forget(name)
	return true
}

func (c *Controller) processNextPod(ctx context.Context) bool {
	key, quit := c.podQueue.Get()
	if quit {
		return false
	}
	defer c.podQueue.Done(key)
	if err := c.processPod(ctx, key); err != nil {
		c.podQueue.AddRateLimited(key)
		return true
	}
	c.podQueue.Forget(key)
	return true
}

// processPod marks a pod bound to a node that is not ready NotReady, as upstream.
func (c *Controller) processPod(ctx context.Context, key types.NamespacedName) error {
	pod, err := c.podLister.Pods(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.healthMu.Lock()
	h := c.health[pod.Spec.NodeName]
	var ready *corev1.NodeCondition
	if h != nil {
		if _, cond := condition(h.status, corev1.NodeReady); cond != nil {
			ready = cond.DeepCopy()
		}
	}
	c.healthMu.Unlock()
	if h == nil || ready == nil {
		// Not seen yet: the monitor handles it.
		return nil
	}
	if _, err := c.nodeLister.Get(pod.Spec.NodeName); err != nil {
		return err
	}
	if ready.Status != corev1.ConditionTrue {
		return markPodsNotReady(ctx, c.client, c.recorder, []*corev1.Pod{pod}, pod.Spec.NodeName, c.opts.Now())
	}
	return nil
}

// doNoScheduleTaintingPass makes the node's NoSchedule taints match its conditions and spec.unschedulable.
func (c *Controller) doNoScheduleTaintingPass(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var want []corev1.Taint
	for _, cond := range node.Status.Conditions {
		if key, ok := conditionTaints[cond.Type][cond.Status]; ok {
			want = append(want, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	var have []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && (t.Key == corev1.TaintNodeUnschedulable || conditionTaintKeys[t.Key]) {
			have = append(have, t)
		}
	}
	add, remove := taintDiff(want, have)
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	return swapTaints(ctx, c.client, node, add, remove, c.opts.Now())
}

// monitorNodeHealth is one pass of the health monitor over every node.
func (c *Controller) monitorNodeHealth(ctx context.Context) error {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	added, deleted, newZones := c.classifyNodes(nodes)
	for _, n := range newZones {
		c.addZone(n)
	}
	for _, n := range added {
		recordNodeEvent(c.recorder, n.Name, string(n.UID), corev1.EventTypeNormal, "RegisteredNode", fmt.Sprintf("Registered Node %v in Controller", n.Name))
		c.knownNodes[n.Name] = n
		c.addZone(n)
		if _, err := c.markNodeAsReachable(ctx, n); err != nil && ctx.Err() == nil {
			slog.Warn("node taints", "node", n.Name, "err", err)
		}
	}
	for _, n := range deleted {
		recordNodeEvent(c.recorder, n.Name, string(n.UID), corev1.EventTypeNormal, "RemovingNode", fmt.Sprintf("Removing Node %v from Controller", n.Name))
		delete(c.knownNodes, n.Name)
		c.healthMu.Lock()
		delete(c.health, n.Name)
		c.healthMu.Unlock()
		c.evictorMu.Lock()
		if q := c.zoneTainter[zoneKey(n)]; q != nil {
			q.remove(n.Name)
		}
		c.evictorMu.Unlock()
	}

	zoneConditions := map[string][]*corev1.NodeCondition{}
	for _, cached := range nodes {
		node := cached.DeepCopy()
		var observed corev1.NodeCondition
		var current *corev1.NodeCondition
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if _, observed, current, err = c.tryUpdateNodeHealth(ctx, node); err == nil {
				break
			}
			fresh, gerr := c.client.CoreV1().Nodes().Get(ctx, cached.Name, metav1.GetOptions{})
			if gerr != nil {
				err = gerr
				break
			}
			node = fresh
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			if ctx.Err() == nil && !apierrors.IsNotFound(err) {
				slog.Warn("node health update failed; no pods will be evicted from it this time", "node", node.Name, "err", err)
			}
			continue
		}
		if _, excluded := node.Labels[excludeDisruptionLabel]; !excluded {
			zone := zoneKey(node)
			zoneConditions[zone] = append(zoneConditions[zone], current)
		}
		if current != nil {
			pods := podsOnNode(c.podIndexer, node.Name)
			c.processTaintBaseEviction(ctx, node, &observed)
			_, needsRetry := c.nodesToRetry.Load(node.Name)
			switch {
			case current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue:
				// Reported once, when the node stops being ready.
				recordNodeStatusChange(c.recorder, node, "NodeNotReady")
				fallthrough
			case needsRetry && observed.Status != corev1.ConditionTrue:
				if err := markPodsNotReady(ctx, c.client, c.recorder, pods, node.Name, c.opts.Now()); err != nil {
					slog.Warn("marking pods not ready", "node", node.Name, "err", err)
					c.nodesToRetry.Store(node.Name, struct{}{})
					continue
				}
			}
		}
		c.nodesToRetry.Delete(node.Name)
	}
	c.handleDisruption(ctx, zoneConditions, nodes)
	return nil
}

// classifyNodes splits nodes into ones not seen before, known ones that are gone, and ones whose zone is new.
func (c *Controller) classifyNodes(nodes []*corev1.Node) (added, deleted, newZones []*corev1.Node) {
	seen := map[string]bool{}
	c.evictorMu.Lock()
	for _, n := range nodes {
		seen[n.Name] = true
		if _, ok := c.knownNodes[n.Name]; !ok {
			added = append(added, n)
		} else if _, ok := c.zoneStates[zoneKey(n)]; !ok {
			newZones = append(newZones, n)
		}
	}
	c.evictorMu.Unlock()
	for name, n := range c.knownNodes {
		if !seen[name] {
			deleted = append(deleted, n)
		}
	}
	return added, deleted, newZones
}

func (c *Controller) addZone(n *corev1.Node) {
	c.evictorMu.Lock()
	defer c.evictorMu.Unlock()
	zone := zoneKey(n)
	if _, ok := c.zoneStates[zone]; !ok {
		c.zoneStates[zone] = stateInitial
		if c.zoneTainter[zone] == nil {
			c.zoneTainter[zone] = newZoneQueue(c.opts.EvictionLimiterQPS)
		}
	}
}

// tryUpdateNodeHealth checks one node's heartbeats and, when the grace period has passed without one, sets its
// conditions Unknown. It returns the grace period used, the Ready condition as observed and as it is now.
func (c *Controller) tryUpdateNodeHealth(ctx context.Context, node *corev1.Node) (time.Duration, corev1.NodeCondition, *corev1.NodeCondition, error) {
	now := c.opts.Now()
	c.healthMu.Lock()
	var h *nodeHealth
	if saved := c.health[node.Name]; saved != nil {
		copied := *saved
		h = &copied
	}
	c.healthMu.Unlock()
	defer func() {
		c.healthMu.Lock()
		c.health[node.Name] = h
		c.healthMu.Unlock()
	}()

	var gracePeriod time.Duration
	var observed corev1.NodeCondition
	_, current := condition(&node.Status, corev1.NodeReady)
	if current == nil {
		// Never posted: as upstream, pretend a Ready Unknown since the node's creation.
		observed = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: node.CreationTimestamp}
		gracePeriod = c.opts.NodeStartupGracePeriod
		if h != nil {
			h.status = &node.Status
		} else {
			h = &nodeHealth{status: &node.Status, probeTimestamp: node.CreationTimestamp.Time, readyTransitionTimestamp: node.CreationTimestamp.Time}
		}
	} else {
		observed = *current
		gracePeriod = c.opts.NodeMonitorGracePeriod
	}

	var savedCond *corev1.NodeCondition
	var savedLease *coordinationv1.Lease
	if h != nil {
		_, savedCond = condition(h.status, corev1.NodeReady)
		savedLease = h.lease
	}
	switch {
	case h == nil:
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case savedCond == nil && current != nil:
		// First Ready condition seen (or the controller just started leading).
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case savedCond != nil && current == nil:
		// The Ready condition was removed: start over.
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case savedCond != nil && current != nil && !savedCond.LastHeartbeatTime.Equal(&current.LastHeartbeatTime):
		// A new heartbeat; a transition too if the transition time moved.
		transition := h.readyTransitionTimestamp
		if !savedCond.LastTransitionTime.Equal(&current.LastTransitionTime) {
			transition = now
		}
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: transition}
	}
	lease, _ := c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(node.Name)
	if lease != nil && lease.Spec.RenewTime != nil && (savedLease == nil || savedLease.Spec.RenewTime == nil || savedLease.Spec.RenewTime.Before(lease.Spec.RenewTime)) {
		h.lease = lease
		h.probeTimestamp = now
	} else if h.lease == nil {
		h.lease = savedLease
	}

	if now.After(h.probeTimestamp.Add(gracePeriod)) {
		stamp := metav1.NewTime(now)
		for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			_, cond := condition(&node.Status, t)
			switch {
			case cond == nil:
				node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{Type: t, Status: corev1.ConditionUnknown,
					Reason: reasonStatusNeverUpdated, Message: messageNeverUpdated, LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: stamp})
			case cond.Status != corev1.ConditionUnknown:
				cond.Status, cond.Reason, cond.Message, cond.LastTransitionTime = corev1.ConditionUnknown, reasonStatusUnknown, messageStatusUnknown, stamp
			}
		}
		_, current = condition(&node.Status, corev1.NodeReady)
		if !apiequality.Semantic.DeepEqual(current, &observed) {
			updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
			if err != nil {
				return gracePeriod, observed, current, err
			}
			h = &nodeHealth{status: &updated.Status, probeTimestamp: h.probeTimestamp, readyTransitionTimestamp: now, lease: h.lease}
			return gracePeriod, observed, current, nil
		}
	}
	return gracePeriod, observed, current, nil
}

// processTaintBaseEviction queues a not ready or unreachable node for its NoExecute taint, swaps one for the
// other at once, or removes both from a ready node.
func (c *Controller) processTaintBaseEviction(ctx context.Context, node *corev1.Node, observed *corev1.NodeCondition) {
	switch observed.Status {
	case corev1.ConditionFalse:
		if hasTaint(node.Spec.Taints, unreachableNoExecute) {
			if err := swapTaints(ctx, c.client, node, []corev1.Taint{notReadyNoExecute}, []corev1.Taint{unreachableNoExecute}, c.opts.Now()); err != nil {
				slog.Warn("swapping the unreachable taint for not-ready; retrying next pass", "node", node.Name, "err", err)
			}
		} else {
			c.markNodeForTainting(node)
		}
	case corev1.ConditionUnknown:
		if hasTaint(node.Spec.Taints, notReadyNoExecute) {
			if err := swapTaints(ctx, c.client, node, []corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}, c.opts.Now()); err != nil {
				slog.Warn("swapping the not-ready taint for unreachable; retrying next pass", "node", node.Name, "err", err)
			}
		} else {
			c.markNodeForTainting(node)
		}
	case corev1.ConditionTrue:
		if _, err := c.markNodeAsReachable(ctx, node); err != nil {
			slog.Warn("removing NoExecute taints", "node", node.Name, "err", err)
		}
	}
}

func (c *Controller) markNodeForTainting(node *corev1.Node) bool {
	c.evictorMu.Lock()
	defer c.evictorMu.Unlock()
	q := c.zoneTainter[zoneKey(node)]
	if q == nil {
		return false
	}
	return q.add(node.Name, string(node.UID), c.opts.Now())
}

// markNodeAsReachable removes the not-ready and unreachable NoExecute taints and drops the node from its
// zone's queue.
func (c *Controller) markNodeAsReachable(ctx context.Context, node *corev1.Node) (bool, error) {
	if hasTaint(node.Spec.Taints, unreachableNoExecute) || hasTaint(node.Spec.Taints, notReadyNoExecute) {
		if err := swapTaints(ctx, c.client, node, nil, []corev1.Taint{unreachableNoExecute, notReadyNoExecute}, c.opts.Now()); err != nil {
			return false, err
		}
	}
	c.evictorMu.Lock()
	defer c.evictorMu.Unlock()
	if q := c.zoneTainter[zoneKey(node)]; q != nil {
		return q.remove(node.Name), nil
	}
	return false, nil
}

// doNoExecuteTaintingPass taints the queued nodes, as fast as each zone's limiter allows.
func (c *Controller) doNoExecuteTaintingPass(ctx context.Context) {
	c.evictorMu.Lock()
	queues := make([]*zoneQueue, 0, len(c.zoneTainter))
	for _, q := range c.zoneTainter {
		queues = append(queues, q)
	}
	c.evictorMu.Unlock()
	for _, q := range queues {
		q.try(c.opts.Now(), func(name, _ string) (bool, time.Duration) {
			node, err := c.nodeLister.Get(name)
			if apierrors.IsNotFound(err) {
				return true, 0
			}
			if err != nil {
				return false, 50 * time.Millisecond
			}
			_, cond := condition(&node.Status, corev1.NodeReady)
			if cond == nil {
				return true, 0
			}
			// Unreachable and not-ready exclude each other, as the Ready condition's values do.
			var add, opposite corev1.Taint
			switch cond.Status {
			case corev1.ConditionFalse:
				add, opposite = notReadyNoExecute, unreachableNoExecute
			case corev1.ConditionUnknown:
				add, opposite = unreachableNoExecute, notReadyNoExecute
			default:
				// Ready again: nothing to do.
				return true, 0
			}
			if err := swapTaints(ctx, c.client, node, []corev1.Taint{add}, []corev1.Taint{opposite}, c.opts.Now()); err != nil {
				if ctx.Err() == nil {
					slog.Warn("NoExecute taint", "node", name, "err", err)
				}
				return false, 0
			}
			return true, 0
		})
	}
}

// handleDisruption recomputes each zone's state and its tainting rate; when every zone is fully disrupted it
// stops NoExecute tainting and removes the taints (the control plane may be what is cut off).
func (c *Controller) handleDisruption(ctx context.Context, zoneConditions map[string][]*corev1.NodeCondition, nodes []*corev1.Node) {
	c.evictorMu.Lock()
	newStates := map[string]zoneState{}
	allAreFullyDisrupted := true
	for zone, conds := range zoneConditions {
		state := c.computeZoneState(conds)
		if state != stateFullDisruption {
			allAreFullyDisrupted = false
		}
		newStates[zone] = state
		if _, ok := c.zoneStates[zone]; !ok {
			c.zoneStates[zone] = stateInitial
			if c.zoneTainter[zone] == nil {
				c.zoneTainter[zone] = newZoneQueue(c.opts.EvictionLimiterQPS)
			}
		}
	}
	allWasFullyDisrupted := true
	for zone, state := range c.zoneStates {
		if _, ok := zoneConditions[zone]; !ok {
			// No node counts there any more (its tainting queue stays).
			delete(c.zoneStates, zone)
			continue
		}
		if state != stateFullDisruption {
			allWasFullyDisrupted = false
		}
	}
	if allAreFullyDisrupted && allWasFullyDisrupted {
		c.evictorMu.Unlock()
		return
	}
	if allAreFullyDisrupted {
		slog.Info("all nodes are not ready: entering master disruption mode, no NoExecute taints")
		for zone := range c.zoneStates {
			c.zoneTainter[zone].swapLimiter(0)
			c.zoneStates[zone] = stateFullDisruption
		}
		c.evictorMu.Unlock()
		for _, n := range nodes {
			if _, err := c.markNodeAsReachable(ctx, n); err != nil && ctx.Err() == nil {
				slog.Warn("removing NoExecute taints", "node", n.Name, "err", err)
			}
		}
		return
	}
	if allWasFullyDisrupted {
		slog.Info("some nodes are ready: leaving master disruption mode")
		// Every node gets a fresh grace period.
		now := c.opts.Now()
		c.healthMu.Lock()
		for _, n := range nodes {
			if h := c.health[n.Name]; h != nil {
				copied := *h
				copied.probeTimestamp, copied.readyTransitionTimestamp = now, now
				c.health[n.Name] = &copied
			}
		}
		c.healthMu.Unlock()
		for zone := range c.zoneStates {
			c.setLimiterInZone(zone, len(zoneConditions[zone]), newStates[zone])
			c.zoneStates[zone] = newStates[zone]
		}
		c.evictorMu.Unlock()
		return
	}
	for zone, state := range c.zoneStates {
		if next := newStates[zone]; next != state {
			slog.Info("zone is in a new state", "zone", zone, "state", string(next))
			c.setLimiterInZone(zone, len(zoneConditions[zone]), next)
			c.zoneStates[zone] = next
		}
	}
	c.evictorMu.Unlock()
}

func (c *Controller) computeZoneState(conds []*corev1.NodeCondition) zoneState {
	ready, notReady := 0, 0
	for _, cond := range conds {
		if cond != nil && cond.Status == corev1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return stateFullDisruption
	case notReady > 2 && float32(notReady)/float32(notReady+ready) >= c.opts.UnhealthyZoneThreshold:
		return statePartialDisruption
	default:
		return stateNormal
	}
}

func (c *Controller) setLimiterInZone(zone string, size int, state zoneState) {
	q := c.zoneTainter[zone]
	switch state {
	case stateNormal, stateFullDisruption:
		q.swapLimiter(c.opts.EvictionLimiterQPS)
	case statePartialDisruption:
		if size > c.opts.LargeClusterThreshold {
			q.swapLimiter(c.opts.SecondaryEvictionLimiterQPS)
		} else {
			q.swapLimiter(0)
		}
	}
}

// zoneKey is upstream's zone of a node: region and zone labels (the deprecated beta ones first).
func zoneKey(n *corev1.Node) string {
	zone, ok := n.Labels[corev1.LabelFailureDomainBetaZone]
	if !ok {
		zone = n.Labels[corev1.LabelTopologyZone]
	}
	region, ok := n.Labels[corev1.LabelFailureDomainBetaRegion]
	if !ok {
		region = n.Labels[corev1.LabelTopologyRegion]
	}
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// condition returns the index and a pointer into status of the condition of type t, or -1 and nil.
func condition(status *corev1.NodeStatus, t corev1.NodeConditionType) (int, *corev1.NodeCondition) {
	if status == nil {
		return -1, nil
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return i, &status.Conditions[i]
		}
	}
	return -1, nil
}

// markPodsNotReady sets the Ready condition of the node's pods False, as upstream's MarkPodsNotReady: only
// pods that have a Ready condition, keeping its reason and message, and a NodeNotReady event on each.
func markPodsNotReady(ctx context.Context, client kubernetes.Interface, recorder record.EventRecorder, pods []*corev1.Pod, nodeName string, now time.Time) error {
	var errs []error
	for _, p := range pods {
		if p.Spec.NodeName != nodeName {
			continue
		}
		pod := p.DeepCopy()
		for i := range pod.Status.Conditions {
			cond := &pod.Status.Conditions[i]
			if cond.Type != corev1.PodReady {
				continue
			}
			if cond.Status == corev1.ConditionFalse {
				break
			}
			cond.Status, cond.LastTransitionTime = corev1.ConditionFalse, metav1.NewTime(now)
			if _, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					break
				}
				errs = append(errs, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err))
				break
			}
			recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
			break
		}
	}
	return errors.Join(errs...)
}

// recordNodeEvent records an event about a node, as upstream's RecordNodeEvent.
func recordNodeEvent(recorder record.EventRecorder, nodeName, uid, eventType, reason, event string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: nodeName, UID: types.UID(uid)}
	recorder.Eventf(ref, eventType, reason, "Node %s event: %s", nodeName, event)
}

// recordNodeStatusChange records a node's new status, as upstream's RecordNodeStatusChange (whose reference
// carries the node's name as its UID).
func recordNodeStatusChange(recorder record.EventRecorder, node *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: types.UID(node.Name)}
	recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}
