package namespace

import (
	"context"
	"log/slog"
	"slices"
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
		remaining := 0
		for _, gvr := range c.resources {
			ri := c.dyn.Resource(gvr).Namespace(name)
			if err := ri.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return false, err
			}
			list, err := ri.List(ctx, metav1.ListOptions{Limit: 1})
			if err != nil {
				return false, err
			}
			remaining += len(list.Items)
		}
		if remaining > 0 {
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
