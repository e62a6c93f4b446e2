package nodelifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
