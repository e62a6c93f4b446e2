package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/apiserver/registry"
)

// Controller empties and finalizes deleted namespaces.
type Controller struct {
	client    kubernetes.Interface
	dyn       dynamic.Interface
	resources []schema.GroupVersionResource
	queue     workqueue.TypedRateLimitingInterface[string]
	// RetryAfter is how long to wait when content is still going away (pods in graceful termination).
	RetryAfter time.Duration
}

// New makes a controller for the given served resources.
func New(cfg *rest.Config, resources []*registry.Resource) (*Controller, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Controller{client: client, dyn: dyn, RetryAfter: 2 * time.Second,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"})}
	for _, r := range resources {
		if r.Namespaced && slices.Contains(r.SupportedVerbs(), "deletecollection") {
			c.resources = append(c.resources, r.GroupVersionResource)
		}
	}
	return c, nil
}

// Run watches namespaces until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer c.queue.ShutDown()
	factory := informers.NewSharedInformerFactory(c.client, 10*time.Minute)
	inf := factory.Core().V1().Namespaces().Informer()
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.queue.Add(ns.Name)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return
	}
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	done, err := c.sync(ctx, name)
	switch {
	case err != nil:
		slog.Warn("namespace cleanup failed, retrying", "namespace", name, "err", err)
		c.queue.AddRateLimited(name)
	case !done:
		c.queue.AddAfter(name, c.RetryAfter)
	default:
		c.queue.Forget(name)
	}
	return true
}

// sync deletes the namespace's content; done=false means some is still going away.
func (c *Controller) sync(ctx context.Context, name string) (bool, error) {
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if ns.DeletionTimestamp == nil {
		return true, nil
	}
	if slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		remaining := map[string]int{}  // group resource -> objects left
		finalizers := map[string]int{} // finalizer -> objects holding it
		var failures []string
		for _, gvr := range c.resources {
			ri := c.dyn.Resource(gvr).Namespace(name)
			if err := ri.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
				failures = append(failures, fmt.Sprintf("%s: %v", gvr.GroupResource(), err))
				continue
			}
			list, err := ri.List(ctx, metav1.ListOptions{})
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s: %v", gvr.GroupResource(), err))
				continue
			}
			if n := len(list.Items); n > 0 {
				remaining[gvr.GroupResource().String()] += n
				for _, item := range list.Items {
					for _, f := range item.GetFinalizers() {
						finalizers[f]++
					}
				}
			}
		}
		if ns, err = c.reportConditions(ctx, ns, remaining, finalizers, failures); err != nil {
			return false, err
		}
		if len(remaining) > 0 || len(failures) > 0 {
			return false, nil
		}
		ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
		if ns, err = c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return false, err
		}
	}
	if len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
		err := c.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
	}
	return true, nil
}

// reportConditions sets upstream's namespace deletion conditions: what content remains, which finalizers
// hold it, and whether deleting failed.
func (c *Controller) reportConditions(ctx context.Context, ns *corev1.Namespace, remaining, finalizers map[string]int, failures []string) (*corev1.Namespace, error) {
	now := metav1.Now()
	describe := func(m map[string]int, format string) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf(format, k, m[k]))
		}
		return strings.Join(parts, ", ")
	}
	conds := []corev1.NamespaceCondition{
		{Type: corev1.NamespaceDeletionDiscoveryFailure, Status: corev1.ConditionFalse, Reason: "ResourcesDiscovered", Message: "All resources successfully discovered"},
		{Type: corev1.NamespaceDeletionGVParsingFailure, Status: corev1.ConditionFalse, Reason: "ParsedGroupVersions", Message: "All legacy kube types successfully parsed"},
		{Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionFalse, Reason: "ContentDeleted", Message: "All content successfully deleted, may be waiting on finalization"},
		{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionFalse, Reason: "ContentRemoved", Message: "All content successfully removed"},
		{Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionFalse, Reason: "ContentHasNoFinalizers", Message: "All content-preserving finalizers finished"},
	}
	if len(failures) > 0 {
		sort.Strings(failures)
		conds[2] = corev1.NamespaceCondition{Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed",
			Message: "Failed to delete all resource types, " + fmt.Sprint(len(failures)) + " remaining: " + strings.Join(failures, ", ")}
	}
	if len(remaining) > 0 {
		conds[3] = corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
			Message: "Some resources are remaining: " + describe(remaining, "%s has %d resource instances")}
	}
	if len(finalizers) > 0 {
		conds[4] = corev1.NamespaceCondition{Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: " + describe(finalizers, "%s in %d resource instances")}
	}
	changed := false
	updated := ns.DeepCopy()
	for _, want := range conds {
		found := false
		for i, have := range updated.Status.Conditions {
			if have.Type != want.Type {
				continue
			}
			found = true
			if have.Status != want.Status || have.Reason != want.Reason || have.Message != want.Message {
				want.LastTransitionTime = now
				if have.Status == want.Status {
					want.LastTransitionTime = have.LastTransitionTime
				}
				updated.Status.Conditions[i] = want
				changed = true
			}
		}
		if !found {
			want.LastTransitionTime = now
			updated.Status.Conditions = append(updated.Status.Conditions, want)
			changed = true
		}
	}
	if !changed {
		return ns, nil
	}
	out, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return ns, err
	}
	return out, nil
}
