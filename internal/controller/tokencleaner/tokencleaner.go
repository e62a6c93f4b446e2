// Package tokencleaner deletes expired bootstrap tokens, as upstream's tokencleaner controller: every Secret of
// type bootstrap.kubernetes.io/token in kube-system whose expiration has passed is deleted (with a UID
// precondition, so a token recreated meanwhile survives); one not yet expired is looked at again when it
// expires.
//
//	kube-system Secrets (type=bootstrap.kubernetes.io/token) ─▶ queue ─▶ expired? ─yes─▶ DELETE
//	                                                                     └no──▶ requeue at expiration
package tokencleaner

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	bootstraptoken "skiff/internal/auth/bootstrap"
	"skiff/internal/controller/controllerutil"
)

// Controller is the token cleaner.
type Controller struct {
	client  kubernetes.Interface
	secrets corelisters.SecretNamespaceLister
	queue   workqueue.TypedRateLimitingInterface[string]
	now     func() time.Time
}

// Start watches bootstrap token Secrets with its own informer (kube-system, by type, as upstream) and runs a
// worker until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(bootstraptoken.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("type", string(bootstraptoken.SecretType)).String()
		}))
	inf := factory.Core().V1().Secrets()
	c := &Controller{client: client, secrets: inf.Lister().Secrets(bootstraptoken.Namespace), now: time.Now,
		queue: controllerutil.NewQueue("token_cleaner")}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	controllerutil.Run(ctx, "token_cleaner", c.queue, 1, c.sync, inf.Informer().HasSynced)
	return nil
}

// sync deletes the Secret if its token has expired, or asks to be called again when it will have.
func (c *Controller) sync(ctx context.Context, key string) error {
	_, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	s, err := c.secrets.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if d := c.decide(s); d > 0 {
		c.queue.AddAfter(key, d)
		return nil
	} else if d < 0 {
		return nil
	}
	slog.Info("deleting expired bootstrap token", "secret", bootstraptoken.Namespace+"/"+name)
	err = c.client.CoreV1().Secrets(bootstraptoken.Namespace).Delete(ctx, name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// decide returns 0 to delete s now, the time left until it expires, or -1 for a token that never expires.
func (c *Controller) decide(s *corev1.Secret) time.Duration {
	if s.Type != bootstraptoken.SecretType || s.DeletionTimestamp != nil {
		return -1
	}
	exp, bad := bootstraptoken.Expiration(s)
	switch {
	case bad:
		return 0
	case exp.IsZero():
		return -1
	}
	if left := exp.Sub(c.now()); left > 0 {
		return left
	}
	return 0
}
