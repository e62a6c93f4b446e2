package daemonset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

// burstReplicas caps how many pods one sync creates or deletes, as upstream.
const burstReplicas = 250

// Controller keeps a pod of each DaemonSet on every eligible node.
type Controller struct {
	client    kubernetes.Interface
	dsLister  appslisters.DaemonSetLister
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	revisions appslisters.ControllerRevisionLister
	recorder  record.EventRecorder
	queue     workqueue.TypedRateLimitingInterface[string]
	exp       *controllerutil.Expectations
	// failedBackoff spaces out the replacement of failed pods, per DaemonSet and node (1 s doubling to 15 min).
	failedBackoff *flowcontrol.Backoff
	now           func() time.Time
}

// Start registers the controller's informer handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	dsInf, podInf, nodeInf, revInf := factory.Apps().V1().DaemonSets(), factory.Core().V1().Pods(), factory.Core().V1().Nodes(),
		factory.Apps().V1().ControllerRevisions()
	c := &Controller{client: client, dsLister: dsInf.Lister(), pods: podInf.Lister(), nodes: nodeInf.Lister(), revisions: revInf.Lister(),
		recorder: recorder, exp: controllerutil.NewExpectations(), failedBackoff: flowcontrol.NewBackOff(time.Second, 15*time.Minute), now: time.Now,
		queue: controllerutil.NewQueue("daemonset")}
	if _, err := dsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if ds, ok := o.(*appsv1.DaemonSet); ok {
				c.exp.Forget(ds.Namespace + "/" + ds.Name)
				c.enqueue(ds)
			}
		},
	}); err != nil {
		return err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	}); err != nil {
		return err
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(o, n any) {
			old, cur := o.(*corev1.Node), n.(*corev1.Node)
			// Heartbeats change nothing a DaemonSet looks at.
			if !apiequality.Semantic.DeepEqual(old.Labels, cur.Labels) || !apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) {
				c.enqueueAll()
			}
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	}); err != nil {
		return err
	}
	controllerutil.ShutDownOnDone(ctx, c.queue)
	controllerutil.AfterSync(ctx, []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced, nodeInf.Informer().HasSynced,
		revInf.Informer().HasSynced}, func() {
		for i := 0; i < 2; i++ {
			go controllerutil.Worker(ctx, "daemonset", c.queue, c.sync)
		}
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.failedBackoff.GC()
			}
		}
	})
	return nil
}

func (c *Controller) enqueue(obj any) {
	if ds, ok := obj.(*appsv1.DaemonSet); ok {
		c.queue.Add(ds.Namespace + "/" + ds.Name)
	}
}

func (c *Controller) enqueueAll() {
	all, _ := c.dsLister.List(labels.Everything())
	for _, ds := range all {
		c.enqueue(ds)
	}
}

func keyOf(ds *appsv1.DaemonSet) string { return ds.Namespace + "/" + ds.Name }

func (c *Controller) ownerOf(p *corev1.Pod) *appsv1.DaemonSet {
	return controllerutil.OwnerOf(metav1.GetControllerOf(p), "DaemonSet", "", c.dsLister.DaemonSets(p.Namespace).Get)
}

func (c *Controller) matching(p *corev1.Pod) []*appsv1.DaemonSet {
	all, _ := c.dsLister.DaemonSets(p.Namespace).List(labels.Everything())
	return controllerutil.Selecting(all, func(ds *appsv1.DaemonSet) *metav1.LabelSelector { return ds.Spec.Selector }, p.Labels)
}

func (c *Controller) podAdded(obj any) {
	p := obj.(*corev1.Pod)
	if p.DeletionTimestamp != nil {
		c.podDeleted(p)
		return
	}
	if metav1.GetControllerOf(p) != nil {
		if ds := c.ownerOf(p); ds != nil {
			c.exp.CreationObserved(keyOf(ds))
			c.enqueue(ds)
		}
		return
	}
	for _, ds := range c.matching(p) {
		c.enqueue(ds)
	}
}

func (c *Controller) podUpdated(o, n any) {
	old, cur := o.(*corev1.Pod), n.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if oref, cref := metav1.GetControllerOf(old), metav1.GetControllerOf(cur); oref != nil && (cref == nil || oref.UID != cref.UID) {
		if ds := c.ownerOf(old); ds != nil {
			c.enqueue(ds)
		}
	}
	if metav1.GetControllerOf(cur) == nil {
		if !apiequality.Semantic.DeepEqual(old.Labels, cur.Labels) || metav1.GetControllerOf(old) != nil {
			for _, ds := range c.matching(cur) {
				c.enqueue(ds)
			}
		}
		return
	}
	ds := c.ownerOf(cur)
	if ds == nil {
		return
	}
	if old.DeletionTimestamp == nil && cur.DeletionTimestamp != nil {
		c.exp.DeletionObserved(keyOf(ds), cur.UID)
	}
	if msg, ok := unschedulable(cur); ok {
		if prev, was := unschedulable(old); !was || prev != msg {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedPlacement", "failed to place pod on %q: %s", targetNode(cur), msg)
		}
	}
	c.enqueue(ds)
}

// unschedulable returns the scheduler's message for a pod it could not place.
func unschedulable(p *corev1.Pod) (string, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message, true
		}
	}
	return "", false
}

func (c *Controller) podDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if ds := c.ownerOf(p); ds != nil {
		c.exp.DeletionObserved(keyOf(ds), p.UID)
		c.enqueue(ds)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	cached, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	ds := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil
	}
	if sel.Empty() {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	if ds.DeletionTimestamp != nil {
		return nil // the garbage collector removes its pods and revisions
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, ds, sel, all)
	if err != nil {
		return err
	}
	old, hash, err := c.history(ctx, ds, sel, pods)
	if err != nil {
		return err
	}
	now := c.now()
	if !c.exp.Satisfied(key) {
		// Still waiting for the informer to show earlier creates and deletes: only the counts.
		st, _ := computeStatus(ds, nodes, byNode(pods), hash, false, now)
		return c.updateStatus(ctx, ds, st)
	}
	var recheck time.Duration
	manageErr := c.manage(ctx, ds, nodes, byNode(pods), hash, now, &recheck)
	if manageErr == nil && c.exp.Satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		manageErr = c.rollingUpdate(ctx, ds, nodes, byNode(pods), hash, now)
	}
	if manageErr == nil {
		for _, r := range historyToDelete(ds, old, pods) {
			if err := c.client.AppsV1().ControllerRevisions(ns).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	st, avail := computeStatus(ds, nodes, byNode(pods), hash, true, now)
	if err := c.updateStatus(ctx, ds, st); err != nil {
		return err
	}
	if avail > 0 && (recheck == 0 || avail < recheck) {
		recheck = avail
	}
	if recheck > 0 {
		c.queue.AddAfter(key, recheck+100*time.Millisecond)
	}
	return manageErr
}

// byNode groups pods by the node they are for (targetNode); pods for no node are left out.
func byNode(pods []*corev1.Pod) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if n := targetNode(p); n != "" {
			out[n] = append(out[n], p)
		}
	}
	return out
}

// claim is how the DaemonSet claims its pods and revisions: adoption needs a fresh GET of the DaemonSet (a
// DaemonSet gone refuses it).
func claim[T metav1.Object](c *Controller, ds *appsv1.DaemonSet, matches func(T) bool, patch func(ctx context.Context, obj T, patch []byte) (T, error)) controllerutil.Claim[T] {
	return controllerutil.Claim[T]{
		Owner:      ds,
		Matches:    matches,
		CanAdopt:   controllerutil.FreshOwner(ds, c.client.AppsV1().DaemonSets(ds.Namespace).Get, true),
		Patch:      patch,
		AdoptPatch: func(o T) []byte { return controllerutil.AdoptPatch(dsKind, ds, o.GetUID(), "") },
	}
}

// claimPods adopts orphan pods the selector matches and releases owned pods it no longer matches; it
// returns the DaemonSet's pods afterwards.
func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	cl := claim(c, ds, func(p *corev1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) }, controllerutil.PodPatcher(c.client))
	cl.ReleasePatch = func(p *corev1.Pod) []byte { return controllerutil.ReleasePatch(ds.UID, p.UID, "") }
	cl.IgnoreInvalid = true
	return cl.Run(ctx, pods)
}

// history finds (or makes) the revision of the current template, giving it the highest number (a rollback
// renumbers an old revision), folds duplicate revisions of the same template into it, and returns the
// older revisions and the current hash.
func (c *Controller) history(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector, pods []*corev1.Pod) ([]*appsv1.ControllerRevision, string, error) {
	all, err := c.revisions.ControllerRevisions(ds.Namespace).List(sel)
	if err != nil {
		return nil, "", err
	}
	patch, err := controllerutil.RevisionPatch(ds)
	if err != nil {
		return nil, "", err
	}
	api := c.client.AppsV1().ControllerRevisions(ds.Namespace)
	// The revisions are listed by the selector: orphans are adopted, none is released. A DaemonSet that may
	// not adopt leaves the history alone for this sync.
	refused := false
	cl := claim(c, ds, func(*appsv1.ControllerRevision) bool { return true },
		func(ctx context.Context, r *appsv1.ControllerRevision, patch []byte) (*appsv1.ControllerRevision, error) {
			return api.Patch(ctx, r.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		})
	canAdopt := cl.CanAdopt
	cl.CanAdopt = func(ctx context.Context) (bool, error) {
		ok, err := canAdopt(ctx)
		refused = err == nil && !ok
		return ok, err
	}
	owned, err := cl.Run(ctx, all)
	if err != nil || refused {
		return nil, "", err
	}
	var cur, old []*appsv1.ControllerRevision
	for _, r := range owned {
		if bytes.Equal(r.Data.Raw, patch) {
			cur = append(cur, r)
		} else {
			old = append(old, r)
		}
	}
	next := int64(1)
	for _, r := range old {
		next = max(next, r.Revision+1)
	}
	var current *appsv1.ControllerRevision
	if len(cur) == 0 {
		if current, err = c.snapshot(ctx, ds, next); err != nil {
			return nil, "", err
		}
	} else {
		controllerutil.SortRevisions(cur, false)
		current = cur[len(cur)-1]
		// Duplicates of the current template (from races): their pods take the kept revision's hash.
		keep := current.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
		for _, dup := range cur[:len(cur)-1] {
			h := dup.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
			for _, p := range pods {
				if h != "" && h != keep && p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == h {
					patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, appsv1.DefaultDaemonSetUniqueLabelKey, keep)
					if _, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
						return nil, "", err
					}
				}
			}
			if err := api.Delete(ctx, dup.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, "", err
			}
		}
		if current.Revision < next {
			cp := current.DeepCopy()
			cp.Revision = next
			if current, err = api.Update(ctx, cp, metav1.UpdateOptions{}); err != nil {
				return nil, "", err
			}
		}
	}
	hash := current.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	if hash == "" {
		hash = current.Name // a revision from elsewhere without the label: upstream uses its name
	}
	return old, hash, nil
}

// errCollision asks for a retry once the raised collision count is back through the informer.
var errCollision = errors.New("controller revision name taken by another template")

// snapshot creates the revision of the current template. A name already taken by other data is a hash
// collision: the collision count is raised (changing the hash) and the sync retried.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, revision int64) (*appsv1.ControllerRevision, error) {
	cr, err := newRevision(ds, revision)
	if err != nil {
		return nil, err
	}
	api := c.client.AppsV1().ControllerRevisions(ds.Namespace)
	created, err := api.Create(ctx, cr, metav1.CreateOptions{})
	if err == nil || !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	existing, err := api.Get(ctx, cr.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if metav1.IsControlledBy(existing, ds) && bytes.Equal(existing.Data.Raw, cr.Data.Raw) {
		return existing, nil
	}
	fresh, err := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if !apiequality.Semantic.DeepEqual(fresh.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, errCollision // our count was stale; the informer brings the new one
	}
	n := int32(1)
	if fresh.Status.CollisionCount != nil {
		n = *fresh.Status.CollisionCount + 1
	}
	fresh.Status.CollisionCount = &n
	if _, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	return nil, errCollision
}

// manage creates and deletes daemon pods node by node (manageNode), and deletes unbound pods for nodes that
// no longer exist.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod, hash string, now time.Time, recheck *time.Duration) error {
	surge := allowsSurge(ds)
	var createOn []string
	var del []*corev1.Pod
	known := map[string]bool{}
	for _, node := range nodes {
		known[node.Name] = true
		run, keep := shouldRun(ds, node)
		bkey := string(ds.UID) + "/" + node.Name
		act := manageNode(run, keep, nodeToPods[node.Name], hash, surge, ds.Spec.MinReadySeconds, now, func(*corev1.Pod) bool {
			if c.failedBackoff.IsInBackOffSinceUpdate(bkey, now) {
				return false
			}
			c.failedBackoff.Next(bkey, now)
			return true
		})
		if act.backoff {
			if d := c.failedBackoff.Get(bkey); d > 0 && (*recheck == 0 || d < *recheck) {
				*recheck = d
			}
		}
		for _, p := range act.failed {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
		}
		for _, p := range act.succeeded {
			c.recorder.Eventf(ds, corev1.EventTypeNormal, "SucceededDaemonPod", "Found succeeded daemon pod %s/%s on node %s, will try to delete it", p.Namespace, p.Name, node.Name)
		}
		if act.create {
			createOn = append(createOn, node.Name)
		}
		del = append(del, act.delete...)
	}
	for node, pods := range nodeToPods {
		if known[node] {
			continue
		}
		for _, p := range pods {
			if p.Spec.NodeName == "" && !terminating(p) {
				del = append(del, p)
			}
		}
	}
	return c.syncNodes(ctx, ds, del, createOn, hash)
}

// rollingUpdate replaces outdated pods within maxUnavailable / maxSurge (see the pure rollingUpdate).
func (c *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod, hash string, now time.Time) error {
	runs := map[string]bool{}
	desired := 0
	for _, node := range nodes {
		if run, _ := shouldRun(ds, node); run {
			runs[node.Name] = true
			desired++
			if _, ok := nodeToPods[node.Name]; !ok {
				nodeToPods[node.Name] = nil
			}
		}
	}
	surge, unavailable := fenceposts(ds, desired)
	del, createOn := rollingUpdate(nodeToPods, runs, hash, surge, unavailable, ds.Spec.MinReadySeconds, now)
	return c.syncNodes(ctx, ds, del, createOn, hash)
}

// syncNodes deletes the pods and creates one on each node (slow start), with expectations so the next sync
// waits for the informer to show them.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, del []*corev1.Pod, createOn []string, hash string) error {
	key := keyOf(ds)
	if len(del) > burstReplicas {
		del = del[:burstReplicas]
	}
	if len(createOn) > burstReplicas {
		createOn = createOn[:burstReplicas]
	}
	if len(del) == 0 && len(createOn) == 0 {
		return nil
	}
	uids := make([]types.UID, 0, len(del))
	for _, p := range del {
		uids = append(uids, p.UID)
	}
	c.exp.Expect(key, len(createOn), uids)
	errs := make(chan error, len(del)+1)
	var wg sync.WaitGroup
	for _, p := range del {
		wg.Add(1)
		go func(p *corev1.Pod) {
			defer wg.Done()
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			if err != nil {
				c.exp.DeletionObserved(key, p.UID)
				if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
					errs <- err
				}
				return
			}
			c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		}(p)
	}
	created, err := controllerutil.SlowStart(len(createOn), func(i int) error {
		pod, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, newPod(ds, createOn[i], hash), metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
		return nil
	})
	for i := created; i < len(createOn); i++ {
		c.exp.CreationObserved(key) // creations not made will never be observed
	}
	if err != nil {
		errs <- err
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus) error {
	if apiequality.Semantic.DeepEqual(ds.Status, st) {
		return nil
	}
	cp := ds.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // a newer version is on its way through the informer, which syncs again
	}
	return err
}
