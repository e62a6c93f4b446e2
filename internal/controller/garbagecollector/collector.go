package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/apiserver/registry"
)

const (
	// workers is how many queued UIDs are worked on at once.
	workers = 2
	// syncTimeout bounds the wait for the informers' first lists; as upstream, the collector then proceeds with
	// whatever synced.
	syncTimeout = 30 * time.Second
	// absentCacheSize is how many owners known to be gone are remembered (upstream: 500).
	absentCacheSize = 1000
)

// errNoRetry marks a failure retrying cannot fix (an invalid owner reference).
var errNoRetry = errors.New("not retried")

// Collector is the garbage collector.
type Collector struct {
	meta     metadata.Interface
	res      *resources
	graph    *graph
	queue    workqueue.TypedRateLimitingInterface[types.UID]
	absent   *absentCache
	recorder record.EventRecorder
}

// Start starts the garbage collector over the given served resources; it runs until ctx ends. The client is
// not needed (the collector works through metadata clients made from cfg). Start does not block.
func Start(ctx context.Context, cfg *rest.Config, _ kubernetes.Interface, resources []*registry.Resource, recorder record.EventRecorder) error {
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	c := newCollector(mc, resources, recorder)
	factory := metadatainformer.NewSharedInformerFactoryWithOptions(mc, 0, metadatainformer.WithTransform(trim))
	var synced []cache.InformerSynced
	for _, r := range c.res.watched {
		reg, err := factory.ForResource(r.GroupVersionResource).Informer().AddEventHandler(c.handler(r))
		if err != nil {
			return err
		}
		synced = append(synced, reg.HasSynced)
	}
	factory.Start(ctx.Done())
	go func() {
		defer factory.Shutdown()
		c.run(ctx, synced)
	}()
	return nil
}

func newCollector(mc metadata.Interface, all []*registry.Resource, recorder record.EventRecorder) *Collector {
	return &Collector{meta: mc, res: newResources(all), graph: newGraph(), absent: newAbsentCache(absentCacheSize),
		recorder: recorder,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbage_collector"})}
}

// run waits for the graph to fill and works the queue until ctx ends.
func (c *Collector) run(ctx context.Context, synced []cache.InformerSynced) {
	defer c.queue.ShutDown()
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	ok := cache.WaitForCacheSync(syncCtx.Done(), synced...)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if !ok {
		slog.Warn("garbage collector: not every resource could be listed, proceeding anyway")
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

// trim keeps only the metadata the collector reads, so the informers hold little.
func trim(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		DeletionTimestamp: m.DeletionTimestamp, Finalizers: m.Finalizers, OwnerReferences: m.OwnerReferences}}, nil
}

func metaOf(obj any) *metav1.ObjectMeta {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		return &m.ObjectMeta
	}
	return nil
}

func (c *Collector) handler(res *registry.Resource) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if m := metaOf(obj); m != nil {
				c.enqueue(c.graph.observe(res, m))
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, n := metaOf(oldObj), metaOf(newObj)
			if n == nil {
				return
			}
			if o != nil && o.UID != n.UID {
				// Deleted and recreated under the same name while the watch was away.
				c.enqueue(c.graph.forget(o.UID))
			}
			c.enqueue(c.graph.observe(res, n))
		},
		DeleteFunc: func(obj any) {
			if m := metaOf(obj); m != nil {
				c.enqueue(c.graph.forget(m.UID))
			}
		},
	}
}

func (c *Collector) enqueue(uids []types.UID) {
	for _, u := range uids {
		c.queue.Add(u)
	}
}

func (c *Collector) processNext(ctx context.Context) bool {
	uid, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(uid)
	err := c.process(ctx, uid)
	switch {
	case err == nil, errors.Is(err, errNoRetry):
		c.queue.Forget(uid)
	case ctx.Err() != nil:
	default:
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug
		}
		slog.Log(ctx, level, "garbage collector: retrying", "uid", uid, "err", err)
		c.queue.AddRateLimited(uid)
	}
	return true
}

// process looks at one node of the graph.
func (c *Collector) process(ctx context.Context, uid types.UID) error {
	v, ok := c.graph.view(uid)
	if !ok {
		return nil
	}
	if !v.observed {
		return c.processVirtual(ctx, v)
	}
	return c.processObject(ctx, v)
}

// processVirtual checks an owner the informers have not seen (or saw deleted): dependents whose reference to it
// does not resolve to a live object are enqueued to be collected.
func (c *Collector) processVirtual(ctx context.Context, v nodeView) error {
	states := map[string]ownerState{}
	for _, d := range v.dependents {
		key := d.ref.namespace + "\x00" + d.owner.APIVersion + "\x00" + d.owner.Kind + "\x00" + d.owner.Name
		st, ok := states[key]
		if !ok {
			var err error
			if st, err = c.ownerState(ctx, d.ref, d.owner); err != nil {
				return err
			}
			states[key] = st
		}
		if st != ownerSolid {
			c.queue.Add(d.ref.uid)
		}
	}
	return nil
}

// processObject handles an observed object: as an owner being deleted (orphan or foreground finalizer), or as a
// dependent whose owners may be gone.
func (c *Collector) processObject(ctx context.Context, v nodeView) error {
	latest, err := c.get(ctx, v.ref)
	if apierrors.IsNotFound(err) {
		return nil // the informer reports the deletion
	}
	if err != nil {
		return err
	}
	if latest.UID != v.ref.uid {
		return nil
	}
	if latest.DeletionTimestamp != nil {
		if slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents) {
			if err := c.orphanDependents(ctx, v); err != nil {
				return err
			}
			if err := c.removeFinalizer(ctx, v.ref, metav1.FinalizerOrphanDependents); err != nil {
				return err
			}
		}
		if slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
			return c.processDeletingDependents(ctx, v)
		}
		// Being deleted otherwise: its own owners do not matter any more.
		return nil
	}
	if len(latest.OwnerReferences) == 0 {
		return nil
	}
	var solid, dangling, waiting []metav1.OwnerReference
	for _, r := range latest.OwnerReferences {
		st, err := c.ownerState(ctx, v.ref, r)
		if err != nil {
			return err
		}
		switch st {
		case ownerInvalid:
			// As upstream: a cluster-scoped object cannot have a namespaced owner; reported, not retried.
			c.event(v.ref, corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
				fmt.Sprintf("ownerRef [%s/%s, name: %s, uid: %s] is namespaced, but %s is cluster-scoped",
					r.APIVersion, r.Kind, r.Name, r.UID, v.ref))
			return errNoRetry
		case ownerDangling:
			if c.graph.observedElsewhere(r.UID, v.ref.namespace) {
				c.event(v.ref, corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
					fmt.Sprintf("ownerRef [%s/%s, name: %s, uid: %s] does not exist in namespace %q",
						r.APIVersion, r.Kind, r.Name, r.UID, v.ref.namespace))
			}
			dangling = append(dangling, r)
		case ownerWaiting:
			waiting = append(waiting, r)
		default:
			solid = append(solid, r)
		}
	}
	cycle := slices.ContainsFunc(v.dependents, func(d dependentView) bool { return d.deletingDependents })
	act := decide(solid, dangling, waiting, len(v.dependents) > 0, cycle, latest.Finalizers)
	switch {
	case len(act.removeRefs) > 0:
		slog.Debug("garbage collector: removing owner references", "object", v.ref, "owners", act.removeRefs)
		_, err := c.removeOwnerRefs(ctx, v.ref, act.removeRefs...)
		return err
	case act.delete:
		rv := latest.ResourceVersion
		if act.unblock {
			m, err := c.unblockOwnerRefs(ctx, v.ref)
			if err != nil || m == nil {
				return err
			}
			rv = m.ResourceVersion
		}
		slog.Debug("garbage collector: deleting", "object", v.ref, "propagationPolicy", act.policy)
		return c.deleteObject(ctx, v.ref, rv, latest.OwnerReferences, act.policy)
	}
	return nil
}

// processDeletingDependents works an owner in foreground deletion: its dependents are enqueued to be deleted,
// and once none with blockOwnerDeletion is left the foregroundDeletion finalizer is removed so the owner goes.
func (c *Collector) processDeletingDependents(ctx context.Context, v nodeView) error {
	blocking := 0
	for _, d := range v.dependents {
		if boolOf(d.owner.BlockOwnerDeletion) {
			blocking++
		}
		if !d.deleting {
			c.queue.Add(d.ref.uid)
		}
	}
	if blocking > 0 {
		// Their deletion (or their dropping the reference) enqueues this owner again.
		return nil
	}
	return c.removeFinalizer(ctx, v.ref, metav1.FinalizerDeleteDependents)
}

// orphanDependents removes every dependent's references to the owner.
func (c *Collector) orphanDependents(ctx context.Context, v nodeView) error {
	var errs []error
	for _, d := range v.dependents {
		if _, err := c.removeOwnerRefs(ctx, d.ref, v.ref.uid); err != nil {
			errs = append(errs, fmt.Errorf("orphaning %s: %w", d.ref, err))
		}
	}
	return errors.Join(errs...)
}

// action is what to do with a dependent, given how its owners stand.
type action struct {
	// removeRefs are references to patch away; the dependent stays.
	removeRefs []types.UID
	// delete the dependent with policy; unblock first sets its references' blockOwnerDeletion to false.
	delete  bool
	unblock bool
	policy  metav1.DeletionPropagation
}

// decide is upstream's rule for a dependent with at least one owner reference. solid owners exist and are not
// waiting for their dependents; dangling ones are gone; waiting ones are in foreground deletion. hasDependents
// says whether the dependent owns anything itself, cycle whether one of those is in foreground deletion too.
func decide(solid, dangling, waiting []metav1.OwnerReference, hasDependents, cycle bool, finalizers []string) action {
	switch {
	case len(solid) > 0:
		// Still owned: only the references to absent owners, and to owners waiting for this dependent to go, are
		// dropped.
		var remove []types.UID
		for _, r := range slices.Concat(dangling, waiting) {
			remove = append(remove, r.UID)
		}
		return action{removeRefs: remove}
	case len(waiting) > 0 && hasDependents:
		// An owner waits for this dependent, which has dependents of its own: delete it in the foreground too, so
		// the owner waits for the whole subtree. A dependent already in foreground deletion may own this object
		// back; unblocking this object's references breaks such a cycle.
		return action{delete: true, unblock: cycle, policy: metav1.DeletePropagationForeground}
	}
	// No owner left: collect it, honouring a propagation finalizer already on it.
	policy := metav1.DeletePropagationBackground
	switch {
	case slices.Contains(finalizers, metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case slices.Contains(finalizers, metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	}
	return action{delete: true, policy: policy}
}

type ownerState int

const (
	ownerSolid    ownerState = iota // exists, not in foreground deletion
	ownerDangling                   // gone (or replaced: another UID under the name)
	ownerWaiting                    // exists with deletionTimestamp and the foregroundDeletion finalizer
	ownerInvalid                    // a namespaced owner of a cluster-scoped object
)

// ownerState reads the owner a dependent's reference names. A namespaced owner is looked up in the dependent's
// namespace, a cluster-scoped one at cluster scope.
func (c *Collector) ownerState(ctx context.Context, dep objectRef, r metav1.OwnerReference) (ownerState, error) {
	res, err := c.res.forRef(r.APIVersion, r.Kind)
	if err != nil {
		return ownerSolid, err
	}
	ns := ""
	if res.Namespaced {
		if dep.namespace == "" {
			return ownerInvalid, nil
		}
		ns = dep.namespace
	}
	key := absentKey{resource: res.GroupResource(), namespace: ns, name: r.Name, uid: r.UID}
	if c.absent.has(key) {
		return ownerDangling, nil
	}
	m, err := c.meta.Resource(res.GroupVersionResource).Namespace(ns).Get(ctx, r.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.absent.add(key)
		return ownerDangling, nil
	case err != nil:
		return ownerSolid, err
	case m.UID != r.UID:
		c.absent.add(key)
		return ownerDangling, nil
	case m.DeletionTimestamp != nil && slices.Contains(m.Finalizers, metav1.FinalizerDeleteDependents):
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

func (c *Collector) client(ref objectRef) metadata.ResourceInterface {
	return c.meta.Resource(ref.gvr()).Namespace(ref.namespace)
}

func (c *Collector) get(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	return c.client(ref).Get(ctx, ref.name, metav1.GetOptions{})
}

// deleteObject deletes the dependent if it is still the object that was judged: its UID and resourceVersion
// are preconditions. If it changed meanwhile but kept its owner references, it is deleted all the same.
func (c *Collector) deleteObject(ctx context.Context, ref objectRef, rv string, owners []metav1.OwnerReference, policy metav1.DeletionPropagation) error {
	uid := ref.uid
	opts := metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}}
	err := c.client(ref).Delete(ctx, ref.name, opts)
	if apierrors.IsConflict(err) {
		latest, gerr := c.get(ctx, ref)
		switch {
		case apierrors.IsNotFound(gerr):
			return nil
		case gerr != nil:
			return gerr
		case latest.UID != uid:
			return nil
		case !slices.EqualFunc(latest.OwnerReferences, owners, refEqual):
			return err // judged again on the retry
		}
		opts.Preconditions.ResourceVersion = nil
		if err = c.client(ref).Delete(ctx, ref.name, opts); apierrors.IsConflict(err) {
			return nil // the UID precondition failed: replaced by another object of the same name
		}
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// removeOwnerRefs drops the references to the given owners from an object.
func (c *Collector) removeOwnerRefs(ctx context.Context, ref objectRef, owners ...types.UID) (*metav1.PartialObjectMetadata, error) {
	return c.patchMeta(ctx, ref, "ownerReferences", func(m *metav1.PartialObjectMetadata) (any, bool) {
		keep := slices.DeleteFunc(slices.Clone(m.OwnerReferences), func(r metav1.OwnerReference) bool {
			return slices.Contains(owners, r.UID)
		})
		return emptyAsNil(keep), len(keep) != len(m.OwnerReferences)
	})
}

// unblockOwnerRefs sets blockOwnerDeletion to false on all of an object's references.
func (c *Collector) unblockOwnerRefs(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	return c.patchMeta(ctx, ref, "ownerReferences", func(m *metav1.PartialObjectMetadata) (any, bool) {
		refs := slices.Clone(m.OwnerReferences)
		changed := false
		for i := range refs {
			if boolOf(refs[i].BlockOwnerDeletion) {
				refs[i].BlockOwnerDeletion = new(false)
				changed = true
			}
		}
		return refs, changed
	})
}

// removeFinalizer drops one finalizer from an object (which then goes if it was the last one and the object is
// being deleted).
func (c *Collector) removeFinalizer(ctx context.Context, ref objectRef, finalizer string) error {
	slog.Debug("garbage collector: removing finalizer", "object", ref, "finalizer", finalizer)
	_, err := c.patchMeta(ctx, ref, "finalizers", func(m *metav1.PartialObjectMetadata) (any, bool) {
		keep := slices.DeleteFunc(slices.Clone(m.Finalizers), func(f string) bool { return f == finalizer })
		return emptyAsNil(keep), len(keep) != len(m.Finalizers)
	})
	return err
}

// patchMeta reads the object, computes a new value for one metadata field and merge-patches it with the read's
// UID and resourceVersion as preconditions, reading again on conflicts. It returns the patched object, the
// object as read when there was nothing to change, or nil when the object is gone or replaced.
func (c *Collector) patchMeta(ctx context.Context, ref objectRef, field string, change func(*metav1.PartialObjectMetadata) (any, bool)) (*metav1.PartialObjectMetadata, error) {
	var out *metav1.PartialObjectMetadata
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		out = nil
		m, err := c.get(ctx, ref)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if m.UID != ref.uid {
			return nil
		}
		value, changed := change(m)
		if !changed {
			out = m
			return nil
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"uid": m.UID, "resourceVersion": m.ResourceVersion, field: value}})
		if err != nil {
			return err
		}
		out, err = c.client(ref).Patch(ctx, ref.name, types.MergePatchType, patch, metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			out = nil
			return nil
		}
		return err
	})
	return out, err
}

// emptyAsNil makes an empty list null in a merge patch, which removes the field.
func emptyAsNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// event records an event about an object, when there is a recorder.
func (c *Collector) event(ref objectRef, eventType, reason, message string) {
	if c.recorder == nil {
		return
	}
	c.recorder.Event(&corev1.ObjectReference{APIVersion: ref.res.GroupVersion().String(), Kind: ref.res.Kind,
		Namespace: ref.namespace, Name: ref.name, UID: ref.uid}, eventType, reason, message)
}
