package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

const workers = 5

// Controller keeps the EndpointSlices of Services with a selector.
type Controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	tracker  *tracker
}

// Start registers the EndpointSlice controller's handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	svcInf, podInf := factory.Core().V1().Services(), factory.Core().V1().Pods()
	nodeInf, sliceInf := factory.Core().V1().Nodes(), factory.Discovery().V1().EndpointSlices()
	c := &Controller{client: client, services: svcInf.Lister(), pods: podInf.Lister(), nodes: nodeInf.Lister(),
		slices: sliceInf.Lister(), recorder: recorder, queue: controllerutil.NewQueue("endpointslice"), tracker: newTracker()}
	if err := watchServicesAndPods(c.queue, svcInf.Informer(), podInf.Informer(), c.services); err != nil {
		return err
	}
	_, err := sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.sliceChanged,
		UpdateFunc: func(_, n any) { c.sliceChanged(n) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if es, ok := o.(*discoveryv1.EndpointSlice); ok && managed(es) {
				c.tracker.deleted(es)
				c.sliceChanged(es)
			}
		},
	})
	if err != nil {
		return err
	}
	// A node's zone label shows in its endpoints: a change resyncs the Services with selectors.
	_, err = nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n any) {
			on, nn := o.(*corev1.Node), n.(*corev1.Node)
			if on.Labels[corev1.LabelTopologyZone] == nn.Labels[corev1.LabelTopologyZone] {
				return
			}
			all, _ := c.services.List(labels.Everything())
			for _, svc := range all {
				if hasSelector(svc) {
					c.queue.Add(svc.Namespace + "/" + svc.Name)
				}
			}
		},
	})
	if err != nil {
		return err
	}
	controllerutil.Run(ctx, "endpointslice", c.queue, workers, c.sync, svcInf.Informer().HasSynced, podInf.Informer().HasSynced,
		nodeInf.Informer().HasSynced, sliceInf.Informer().HasSynced)
	return nil
}

func managed(es *discoveryv1.EndpointSlice) bool {
	return es.Labels[discoveryv1.LabelManagedBy] == ManagedBy && es.Labels[discoveryv1.LabelServiceName] != ""
}

func (c *Controller) sliceChanged(obj any) {
	if es, ok := obj.(*discoveryv1.EndpointSlice); ok && managed(es) {
		c.queue.Add(es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName])
	}
}

func (c *Controller) zoneOf(node string) string {
	n, err := c.nodes.Get(node)
	if err != nil {
		return ""
	}
	return n.Labels[corev1.LabelTopologyZone]
}

var errStale = errors.New("endpointslice cache older than the controller's own writes")

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The slices' owner reference lets the garbage collector remove them.
		c.tracker.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if !hasSelector(svc) || svc.DeletionTimestamp != nil {
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	existing, err := c.slices.EndpointSlices(ns).List(labels.SelectorFromSet(map[string]string{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: ManagedBy}))
	if err != nil {
		return err
	}
	if c.tracker.stale(key, existing) {
		return errStale
	}
	p := reconcile(svc, existing, desiredGroups(svc, pods, c.zoneOf))
	if err := c.apply(ctx, key, p); err != nil {
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
				"Error updating Endpoint Slices for Service %s/%s: %v", ns, name, err)
		}
		return err
	}
	return nil
}

func (c *Controller) apply(ctx context.Context, key string, p plan) error {
	api := func(ns string) interface {
		Create(context.Context, *discoveryv1.EndpointSlice, metav1.CreateOptions) (*discoveryv1.EndpointSlice, error)
		Update(context.Context, *discoveryv1.EndpointSlice, metav1.UpdateOptions) (*discoveryv1.EndpointSlice, error)
		Delete(context.Context, string, metav1.DeleteOptions) error
	} {
		return c.client.DiscoveryV1().EndpointSlices(ns)
	}
	for _, es := range p.create {
		got, err := api(es.Namespace).Create(ctx, es, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		c.tracker.wrote(key, got.Name, got.ResourceVersion)
	}
	for _, es := range p.update {
		got, err := api(es.Namespace).Update(ctx, es, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		c.tracker.wrote(key, got.Name, got.ResourceVersion)
	}
	for _, es := range p.delete {
		err := api(es.Namespace).Delete(ctx, es.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &es.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		c.tracker.wrote(key, es.Name, "")
	}
	if n := len(p.create) + len(p.update) + len(p.delete); n > 0 {
		slog.Debug("endpointslices synced", "service", key, "created", len(p.create), "updated", len(p.update), "deleted", len(p.delete))
	}
	return nil
}

// tracker remembers the slices a sync wrote (name → resourceVersion, "" for deleted) until the informer
// has caught up, so the next sync does not act on a cache that misses them (and, say, create a second
// slice for the same endpoints).
type tracker struct {
	mu sync.Mutex
	m  map[string]map[string]string
}

func newTracker() *tracker { return &tracker{m: map[string]map[string]string{}} }

func (t *tracker) wrote(key, name, rv string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[key] == nil {
		t.m[key] = map[string]string{}
	}
	t.m[key][name] = rv
}

// deleted: the informer saw the slice go, whoever deleted it.
func (t *tracker) deleted(es *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m[es.Namespace+"/"+es.Labels[discoveryv1.LabelServiceName]], es.Name)
}

func (t *tracker) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// stale reports whether the cached slices miss a write of ours; when they do not, what was remembered is
// dropped.
func (t *tracker) stale(key string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, es := range cached {
		byName[es.Name] = es
	}
	for name, rv := range t.m[key] {
		es, ok := byName[name]
		if rv == "" {
			if ok {
				return true
			}
			continue
		}
		if !ok || olderThan(es.ResourceVersion, rv) {
			return true
		}
	}
	delete(t.m, key)
	return false
}

func olderThan(have, want string) bool {
	h, err1 := strconv.ParseUint(have, 10, 64)
	w, err2 := strconv.ParseUint(want, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	return h < w
}

// EndpointsController keeps the core/v1 Endpoints of Services with a selector.
type EndpointsController struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	recorder  record.EventRecorder
	queue     workqueue.TypedRateLimitingInterface[string]
}

// StartEndpoints registers the Endpoints controller's handlers and starts its workers until ctx ends.
func StartEndpoints(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	svcInf, podInf, epInf := factory.Core().V1().Services(), factory.Core().V1().Pods(), factory.Core().V1().Endpoints()
	c := &EndpointsController{client: client, services: svcInf.Lister(), pods: podInf.Lister(), endpoints: epInf.Lister(),
		recorder: recorder, queue: controllerutil.NewQueue("endpoint")}
	if err := watchServicesAndPods(c.queue, svcInf.Informer(), podInf.Informer(), c.services); err != nil {
		return err
	}
	// Endpoints changed or deleted by someone else are put back; the initial list also brings the
	// Endpoints this controller made for Services deleted while it was not running.
	enqueue := func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		if ep, ok := o.(*corev1.Endpoints); ok {
			c.queue.Add(ep.Namespace + "/" + ep.Name)
		}
	}
	_, err := epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if ep, ok := o.(*corev1.Endpoints); ok && ep.Labels[labelSkipMirror] == "true" {
				enqueue(o)
			}
		},
		UpdateFunc: func(_, n any) { enqueue(n) },
		DeleteFunc: enqueue,
	})
	if err != nil {
		return err
	}
	controllerutil.Run(ctx, "endpoint", c.queue, workers, c.sync, svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced)
	return nil
}

func (c *EndpointsController) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Upstream's Endpoints have no owner reference: the controller deletes them with their Service. Only
		// ones it made (or that still look like it) are touched.
		cur, err := c.endpoints.Endpoints(ns).Get(name)
		if apierrors.IsNotFound(err) || (err == nil && cur.Labels[labelSkipMirror] != "true") {
			return nil
		}
		err = c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if !hasSelector(svc) || svc.DeletionTimestamp != nil {
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	subsets, truncated := desiredSubsets(svc, pods)
	want := endpointsLabels(svc)
	cur, err := c.endpoints.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var ep *corev1.Endpoints
	if cur == nil {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	} else {
		if apiequality.Semantic.DeepEqual(cur.Subsets, subsets) && maps.Equal(cur.Labels, want) &&
			(cur.Annotations[annotationOverCapacity] == "truncated") == truncated {
			return nil
		}
		ep = cur.DeepCopy()
	}
	ep.Labels, ep.Subsets = want, subsets
	if truncated {
		if ep.Annotations == nil {
			ep.Annotations = map[string]string{}
		}
		ep.Annotations[annotationOverCapacity] = "truncated"
	} else {
		delete(ep.Annotations, annotationOverCapacity)
	}
	if cur == nil {
		_, err = c.client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{})
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
	} else {
		_, err = c.client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{})
	}
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && !apierrors.IsNotFound(err) {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %s/%s: %v", ns, name, err)
	}
	return err
}

// watchServicesAndPods queues a Service when it changes, and the Services selecting a pod when the pod
// comes, goes, or changes in a way its endpoints show (old and new labels both count).
func watchServicesAndPods(q workqueue.TypedRateLimitingInterface[string], svcInf, podInf cache.SharedIndexInformer, services corelisters.ServiceLister) error {
	enqueueSvc := func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		if svc, ok := o.(*corev1.Service); ok {
			q.Add(svc.Namespace + "/" + svc.Name)
		}
	}
	_, err := svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueSvc, UpdateFunc: func(_, n any) { enqueueSvc(n) }, DeleteFunc: enqueueSvc,
	})
	if err != nil {
		return err
	}
	forPod := func(pod *corev1.Pod) {
		all, _ := services.Services(pod.Namespace).List(labels.Everything())
		for _, svc := range all {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				q.Add(svc.Namespace + "/" + svc.Name)
			}
		}
	}
	podOf := func(o any) *corev1.Pod {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		p, _ := o.(*corev1.Pod)
		return p
	}
	_, err = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if p := podOf(o); p != nil {
				forPod(p)
			}
		},
		UpdateFunc: func(o, n any) {
			old, cur := o.(*corev1.Pod), n.(*corev1.Pod)
			if old.ResourceVersion == cur.ResourceVersion || !endpointsChanged(old, cur) {
				return
			}
			forPod(cur)
			if !maps.Equal(old.Labels, cur.Labels) {
				forPod(old)
			}
		},
		DeleteFunc: func(o any) {
			if p := podOf(o); p != nil {
				forPod(p)
			}
		},
	})
	return err
}

// endpointsChanged: the pod changed in something its endpoints depend on.
func endpointsChanged(a, b *corev1.Pod) bool {
	return !maps.Equal(a.Labels, b.Labels) || a.Status.PodIP != b.Status.PodIP ||
		!apiequality.Semantic.DeepEqual(a.Status.PodIPs, b.Status.PodIPs) || controllerutil.PodReady(a) != controllerutil.PodReady(b) ||
		(a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) || a.Spec.NodeName != b.Spec.NodeName ||
		a.Status.Phase != b.Status.Phase || a.Spec.Hostname != b.Spec.Hostname || a.Spec.Subdomain != b.Spec.Subdomain ||
		fmt.Sprint(containerPorts(a)) != fmt.Sprint(containerPorts(b))
}

func containerPorts(p *corev1.Pod) [][]corev1.ContainerPort {
	var out [][]corev1.ContainerPort
	for _, c := range p.Spec.Containers {
		out = append(out, c.Ports)
	}
	for _, c := range p.Spec.InitContainers {
		out = append(out, c.Ports)
	}
	return out
}
