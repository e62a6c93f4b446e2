package serviceaccount

import (
	"context"
	"errors"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Options configure the serviceaccount controller.
type Options struct {
	// ServiceAccounts are ensured in every active namespace (default: one named "default", as upstream).
	ServiceAccounts []corev1.ServiceAccount
	// Workers is how many namespaces are synced at once (upstream's --concurrent-serviceaccount-token-syncs
	// default for this controller: 5).
	Workers int
}

type saController struct {
	client   kubernetes.Interface
	ensure   []corev1.ServiceAccount
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// Start registers the serviceaccount controller's handlers on the shared informers and starts its workers,
// which stop when ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) error {
	if len(opts.ServiceAccounts) == 0 {
		opts.ServiceAccounts = []corev1.ServiceAccount{{ObjectMeta: metav1.ObjectMeta{Name: "default"}}}
	}
	if opts.Workers <= 0 {
		opts.Workers = 5
	}
	nsInf := factory.Core().V1().Namespaces()
	saInf := factory.Core().V1().ServiceAccounts()
	c := &saController{client: client, ensure: opts.ServiceAccounts, nsLister: nsInf.Lister(), saLister: saInf.Lister(),
		synced: []cache.InformerSynced{nsInf.Informer().HasSynced, saInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"})}
	if _, err := saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if sa, ok := unwrap(obj).(*corev1.ServiceAccount); ok {
				c.queue.Add(sa.Namespace)
			}
		},
	}); err != nil {
		return err
	}
	if _, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNamespace(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	}); err != nil {
		return err
	}
	go run(ctx, "serviceaccount", c.queue, c.synced, opts.Workers, c.sync)
	return nil
}

func (c *saController) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// sync creates the missing service accounts of one namespace, if it is active.
func (c *saController) sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		return nil
	}
	var errs []error
	for _, want := range c.ensure {
		switch _, err := c.saLister.ServiceAccounts(name).Get(want.Name); {
		case err == nil:
			continue
		case !apierrors.IsNotFound(err):
			return err
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: name, Labels: want.Labels, Annotations: want.Annotations}}
		if _, err := c.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil &&
			!apierrors.IsAlreadyExists(err) && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unwrap returns the object inside a tombstone.
func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// run waits for the informers, then runs workers over the queue until ctx ends.
func run(ctx context.Context, controller string, queue workqueue.TypedRateLimitingInterface[string], synced []cache.InformerSynced, workers int,
	sync func(context.Context, string) error) {
	defer queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for {
				key, quit := queue.Get()
				if quit {
					return
				}
				if err := sync(ctx, key); err != nil {
					if ctx.Err() == nil {
						slog.Warn("namespace sync failed", "controller", controller, "namespace", key, "err", err)
					}
					queue.AddRateLimited(key)
				} else {
					queue.Forget(key)
				}
				queue.Done(key)
			}
		}, time.Second)
	}
	<-ctx.Done()
}
