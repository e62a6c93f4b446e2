// Package resourcequota is upstream's resource quota controller: it keeps each ResourceQuota's status.hard
// equal to spec.hard and recounts status.used from the objects that exist in its namespace. ResourceQuota
// admission charges a new object the moment it is admitted; this controller gives back what deleted objects,
// finished pods and shrunk Services used, and puts right what admission over-counted for writes that failed.
//
//	ResourceQuota added / spec changed ─┐
//	pod, Service, claim, ConfigMap, Secret, RC, quota deleted or its usage changed ─▶ the namespace's quotas
//	every Resync ───────────────────────┘          ─▶ queue ─▶ recount (informers; metadata LIST for other
//	                                                            count/<resource>.<group>) ─▶ PUT status
//
// The status write carries the resourceVersion the recount started from, so it never overwrites a charge
// admission made meanwhile: it conflicts, and the quota is counted again.
package resourcequota

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
	"skiff/internal/quota"
)

// DefaultResync is how often every quota is recounted regardless of events (upstream's
// --resource-quota-sync-period).
const DefaultResync = 5 * time.Minute

// Options configure the controller.
type Options struct {
	// Resync: every quota is recounted this often; 0 means DefaultResync.
	Resync time.Duration
	// Metadata lists resources the controller has no informer for (count/<resource>.<group>); nil turns those
	// counts off (they stay at zero).
	Metadata metadata.Interface
	// Resolve maps a group/resource to the version to list it at; false when it is not served.
	Resolve func(schema.GroupResource) (schema.GroupVersionResource, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var everything = labels.Everything()

// Controller recounts quotas.
type Controller struct {
	client kubernetes.Interface
	quotas corelisters.ResourceQuotaLister
	// byResource lists a namespace's objects of a resource from an informer.
	byResource map[schema.GroupResource]cache.SharedIndexInformer
	opts       Options
	queue      workqueue.TypedRateLimitingInterface[string]
}

// Start sets up the informers and starts the workers.
func Start(ctx context.Context, client kubernetes.Interface, inf informers.SharedInformerFactory, opts Options) error {
	if opts.Resync == 0 {
		opts.Resync = DefaultResync
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	core := inf.Core().V1()
	c := &Controller{client: client, quotas: core.ResourceQuotas().Lister(), opts: opts,
		queue: controllerutil.NewQueue("resourcequota_primary"),
		byResource: map[schema.GroupResource]cache.SharedIndexInformer{
			{Resource: "pods"}:                   core.Pods().Informer(),
			{Resource: "services"}:               core.Services().Informer(),
			{Resource: "persistentvolumeclaims"}: core.PersistentVolumeClaims().Informer(),
			{Resource: "configmaps"}:             core.ConfigMaps().Informer(),
			{Resource: "secrets"}:                core.Secrets().Informer(),
			{Resource: "replicationcontrollers"}: core.ReplicationControllers().Informer(),
			{Resource: "resourcequotas"}:         core.ResourceQuotas().Informer(),
		}}
	enqueueQuota := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := core.ResourceQuotas().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueQuota,
		UpdateFunc: func(o, n any) {
			old, cur := o.(*corev1.ResourceQuota), n.(*corev1.ResourceQuota)
			if !quota.Equal(old.Spec.Hard, cur.Spec.Hard) || !quota.Equal(cur.Spec.Hard, cur.Status.Hard) {
				enqueueQuota(n)
			}
		},
	}); err != nil {
		return err
	}
	synced := []cache.InformerSynced{}
	for gr, i := range c.byResource {
		synced = append(synced, i.HasSynced)
		if _, err := i.AddEventHandler(c.replenish(gr)); err != nil {
			return err
		}
	}
	controllerutil.Run(ctx, "resourcequota", c.queue, 2, c.sync, synced...)
	controllerutil.AfterSync(ctx, synced, func() { c.resyncEvery(ctx) })
	return nil
}

// replenish recounts a namespace's quotas when an object goes away or uses less (or more) than it did; new
// objects were charged by admission already.
func (c *Controller) replenish(gr schema.GroupResource) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n any) {
			now := c.opts.Now()
			if !quota.Equal(quota.Usage(gr, o.(runtime.Object), now), quota.Usage(gr, n.(runtime.Object), now)) {
				c.enqueueNamespace(n)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			c.enqueueNamespace(obj)
		},
	}
}

func (c *Controller) enqueueNamespace(obj any) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	qs, err := c.quotas.ResourceQuotas(m.GetNamespace()).List(everything)
	if err != nil {
		return
	}
	for _, q := range qs {
		c.queue.Add(q.Namespace + "/" + q.Name)
	}
}

func (c *Controller) resyncEvery(ctx context.Context) {
	t := time.NewTicker(c.opts.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qs, _ := c.quotas.List(everything)
		for _, q := range qs {
			c.queue.Add(q.Namespace + "/" + q.Name)
		}
	}
}

// sync recounts one quota and writes its status when it changed.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	q, err := c.quotas.ResourceQuotas(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	used, err := c.count(ctx, q)
	if err != nil {
		return err
	}
	if quota.Equal(q.Status.Hard, q.Spec.Hard) && quota.Equal(q.Status.Used, used) {
		return nil
	}
	next := q.DeepCopy()
	next.Status.Hard = q.Spec.Hard.DeepCopy()
	next.Status.Used = used
	_, err = c.client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err // a conflict requeues: admission charged it meanwhile, count again
}

// count measures what the namespace's objects use of every resource in q's spec.hard.
func (c *Controller) count(ctx context.Context, q *corev1.ResourceQuota) (corev1.ResourceList, error) {
	probe := q.DeepCopy()
	probe.Status.Hard = q.Spec.Hard
	hard := quota.Names(q.Spec.Hard)
	grs := map[schema.GroupResource]bool{}
	for gr := range c.byResource {
		if len(quota.Limited(probe, gr)) > 0 {
			grs[gr] = true
		}
	}
	for _, n := range hard {
		if gr, ok := quota.ParseObjectCount(n); ok {
			grs[gr] = true
		}
	}
	now := c.opts.Now()
	sum := corev1.ResourceList{}
	for gr := range grs {
		objs, err := c.list(ctx, gr, q.Namespace)
		if err != nil {
			return nil, fmt.Errorf("counting %s: %w", gr, err)
		}
		for _, o := range objs {
			if quota.Matches(probe, gr, o) {
				sum = quota.Add(sum, quota.Mask(quota.Usage(gr, o, now), hard))
			}
		}
	}
	used := corev1.ResourceList{}
	for _, n := range hard {
		v, ok := sum[n]
		if !ok {
			v = *resource.NewQuantity(0, resource.DecimalSI)
		}
		used[n] = v
	}
	return used, nil
}

func (c *Controller) list(ctx context.Context, gr schema.GroupResource, ns string) ([]runtime.Object, error) {
	if inf, ok := c.byResource[gr]; ok {
		items, err := inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		if err != nil {
			return nil, err
		}
		out := make([]runtime.Object, len(items))
		for i, o := range items {
			out[i] = o.(runtime.Object)
		}
		return out, nil
	}
	if c.opts.Metadata == nil || c.opts.Resolve == nil {
		return nil, nil
	}
	gvr, ok := c.opts.Resolve(gr)
	if !ok {
		return nil, nil // not served: nothing to count
	}
	list, err := c.opts.Metadata.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}
