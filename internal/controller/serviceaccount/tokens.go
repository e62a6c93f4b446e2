package serviceaccount

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// TokenGenerator signs the legacy (non-expiring) token of a ServiceAccount stored in the named Secret.
type TokenGenerator func(sa *corev1.ServiceAccount, secretName string) (string, error)

// TokensOptions configure the tokens controller.
type TokensOptions struct {
	// Generate signs tokens (the API server's service account key, LegacyIssuer).
	Generate TokenGenerator
	// RootCA is written to each Secret's ca.crt.
	RootCA []byte
	// Workers is how many Secrets are synced at once (upstream's --concurrent-serviceaccount-token-syncs: 5).
	Workers int
}

type tokensController struct {
	client   kubernetes.Interface
	opts     TokensOptions
	saLister corelisters.ServiceAccountLister
	secrets  corelisters.SecretLister
	queue    workqueue.TypedRateLimitingInterface[string]
}

// StartTokens starts upstream's tokens controller (serviceaccount-token): every Secret of type
// kubernetes.io/service-account-token gets, once its ServiceAccount (annotation kubernetes.io/service-account.name)
// exists, a signed non-expiring token, ca.crt, namespace and the ServiceAccount's UID annotation; a Secret whose
// ServiceAccount is gone, or was recreated with another UID, is deleted. Secrets are watched with the controller's
// own client (by type, as upstream); ServiceAccounts through the shared informers.
func StartTokens(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, opts TokensOptions) error {
	if opts.Workers <= 0 {
		opts.Workers = 5
	}
	secretFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)).String()
	}))
	secInf := secretFactory.Core().V1().Secrets()
	saInf := factory.Core().V1().ServiceAccounts()
	c := &tokensController{client: client, opts: opts, saLister: saInf.Lister(), secrets: secInf.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount-token"})}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := secInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) },
	}); err != nil {
		return err
	}
	// A ServiceAccount's changes concern the token Secrets naming it.
	saChanged := func(obj any) {
		sa, ok := unwrap(obj).(*corev1.ServiceAccount)
		if !ok {
			return
		}
		list, _ := c.secrets.Secrets(sa.Namespace).List(labels.Everything())
		for _, s := range list {
			if s.Annotations[corev1.ServiceAccountNameKey] == sa.Name {
				enqueue(s)
			}
		}
	}
	if _, err := saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: saChanged, UpdateFunc: func(_, n any) { saChanged(n) }, DeleteFunc: saChanged,
	}); err != nil {
		return err
	}
	secretFactory.Start(ctx.Done())
	go run(ctx, "serviceaccount-token", c.queue, []cache.InformerSynced{secInf.Informer().HasSynced, saInf.Informer().HasSynced},
		opts.Workers, c.sync)
	return nil
}

// sync brings one token Secret (namespace/name) in line with its ServiceAccount.
func (c *tokensController) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	s, err := c.secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.Type != corev1.SecretTypeServiceAccountToken || s.DeletionTimestamp != nil {
		return nil
	}
	sa, err := c.serviceAccount(ctx, s)
	if err != nil {
		return err
	}
	if sa == nil {
		slog.Info("deleting token secret of a missing service account", "secret", key, "serviceaccount", s.Annotations[corev1.ServiceAccountNameKey])
		uid := s.UID
		err := c.client.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if !c.needsUpdate(s, sa) {
		return nil
	}
	return c.populate(ctx, s, sa)
}

// serviceAccount returns the ServiceAccount a Secret names, nil when it does not exist (or is being deleted,
// or has another UID than the Secret records). A cache miss is checked live: the ServiceAccount may just have
// been created.
func (c *tokensController) serviceAccount(ctx context.Context, s *corev1.Secret) (*corev1.ServiceAccount, error) {
	name := s.Annotations[corev1.ServiceAccountNameKey]
	if name == "" {
		return nil, nil
	}
	sa, err := c.saLister.ServiceAccounts(s.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		sa, err = c.client.CoreV1().ServiceAccounts(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if sa.DeletionTimestamp != nil {
		return nil, nil
	}
	if uid := s.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && types.UID(uid) != sa.UID {
		return nil, nil
	}
	return sa, nil
}

func (c *tokensController) needsUpdate(s *corev1.Secret, sa *corev1.ServiceAccount) bool {
	return len(s.Data[corev1.ServiceAccountTokenKey]) == 0 || (len(s.Data[corev1.ServiceAccountRootCAKey]) == 0 && len(c.opts.RootCA) > 0) ||
		len(s.Data[corev1.ServiceAccountNamespaceKey]) == 0 || s.Annotations[corev1.ServiceAccountUIDKey] != string(sa.UID)
}

// populate writes the token, ca.crt, namespace and the UID annotation, on the live Secret (an update with its
// resourceVersion: a conflict is retried from the queue).
func (c *tokensController) populate(ctx context.Context, cached *corev1.Secret, sa *corev1.ServiceAccount) error {
	s, err := c.client.CoreV1().Secrets(cached.Namespace).Get(ctx, cached.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.UID != cached.UID || !c.needsUpdate(s, sa) {
		return nil
	}
	s = s.DeepCopy()
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	if len(s.Data[corev1.ServiceAccountTokenKey]) == 0 {
		tok, err := c.opts.Generate(sa, s.Name)
		if err != nil {
			return err
		}
		s.Data[corev1.ServiceAccountTokenKey] = []byte(tok)
	}
	// Missing pieces only, as upstream: what a user put there stays.
	if len(s.Data[corev1.ServiceAccountRootCAKey]) == 0 && len(c.opts.RootCA) > 0 {
		s.Data[corev1.ServiceAccountRootCAKey] = c.opts.RootCA
	}
	if len(s.Data[corev1.ServiceAccountNamespaceKey]) == 0 {
		s.Data[corev1.ServiceAccountNamespaceKey] = []byte(s.Namespace)
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[corev1.ServiceAccountNameKey] = sa.Name
	s.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
	_, err = c.client.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
