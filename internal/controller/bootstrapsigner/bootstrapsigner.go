// Package bootstrapsigner signs the cluster discovery ConfigMap, as upstream's bootstrapsigner controller:
// kube-public/cluster-info's kubeconfig gets, for every valid bootstrap token (kube-system Secret of type
// bootstrap.kubernetes.io/token with usage-bootstrap-signing=true, not expired), a detached JWS under
// jws-kubeconfig-<token id>; signatures of tokens that are gone are removed. A joining node that knows a token
// can thus trust the ConfigMap it reads anonymously.
//
//	cluster-info ConfigMap ─┐
//	bootstrap token Secrets ┴▶ queue ("cluster-info") ─▶ signatures wanted ≠ present? ─▶ UPDATE
package bootstrapsigner

import (
	"context"
	"maps"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	bootstraptoken "skiff/internal/auth/bootstrap"
	"skiff/internal/controller/controllerutil"
)

const key = bootstraptoken.ClusterInfoNamespace + "/" + bootstraptoken.ClusterInfoConfigMap

// Controller is the bootstrap signer.
type Controller struct {
	client     kubernetes.Interface
	configMaps corelisters.ConfigMapNamespaceLister
	secrets    corelisters.SecretNamespaceLister
	queue      workqueue.TypedRateLimitingInterface[string]
	now        func() time.Time
}

// Start watches cluster-info and the bootstrap token Secrets with its own informers (the controller's client,
// whose role reads kube-system Secrets and kube-public ConfigMaps) and signs until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface) error {
	cmFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(bootstraptoken.ClusterInfoNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", bootstraptoken.ClusterInfoConfigMap).String()
		}))
	secretFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(bootstraptoken.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("type", string(bootstraptoken.SecretType)).String()
		}))
	cms := cmFactory.Core().V1().ConfigMaps()
	secrets := secretFactory.Core().V1().Secrets()
	c := &Controller{client: client, configMaps: cms.Lister().ConfigMaps(bootstraptoken.ClusterInfoNamespace),
		secrets: secrets.Lister().Secrets(bootstraptoken.Namespace), now: time.Now,
		queue: controllerutil.NewQueue("bootstrap_signer_queue")}
	enqueue := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.queue.Add(key) },
		UpdateFunc: func(any, any) { c.queue.Add(key) },
		DeleteFunc: func(any) { c.queue.Add(key) },
	}
	for _, inf := range []cache.SharedIndexInformer{cms.Informer(), secrets.Informer()} {
		if _, err := inf.AddEventHandler(enqueue); err != nil {
			return err
		}
	}
	cmFactory.Start(ctx.Done())
	secretFactory.Start(ctx.Done())
	controllerutil.Run(ctx, "bootstrap_signer", c.queue, 1, func(ctx context.Context, _ string) error { return c.sync(ctx) },
		cms.Informer().HasSynced, secrets.Informer().HasSynced)
	return nil
}

// sync brings cluster-info's signatures in line with the valid tokens.
func (c *Controller) sync(ctx context.Context) error {
	cm, err := c.configMaps.Get(bootstraptoken.ClusterInfoConfigMap)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	content, ok := cm.Data[bootstraptoken.KubeconfigKey]
	if !ok {
		return nil
	}
	tokens, next := c.signingTokens()
	if next > 0 {
		c.queue.AddAfter(key, next) // a token expires: its signature goes
	}
	want, err := Signatures(cm.Data, content, tokens)
	if err != nil {
		return err
	}
	if maps.Equal(want, cm.Data) {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = want
	_, err = c.client.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // the informer brings the new version
	}
	return err
}

// signingTokens returns token id -> secret of the tokens that may sign, and how long until the first of them
// expires (0: none does).
func (c *Controller) signingTokens() (map[string]string, time.Duration) {
	list, _ := c.secrets.List(labels.Everything())
	now := c.now()
	tokens := map[string]string{}
	var next time.Duration
	for _, s := range list {
		id, secret := string(s.Data[bootstraptoken.KeyTokenID]), string(s.Data[bootstraptoken.KeyTokenSecret])
		if s.Type != bootstraptoken.SecretType || s.DeletionTimestamp != nil || id == "" || secret == "" ||
			s.Name != bootstraptoken.SecretPrefix+id || string(s.Data[bootstraptoken.KeyUsageSigning]) != "true" ||
			bootstraptoken.Expired(s, now) {
			continue
		}
		tokens[id] = secret
		if exp, _ := bootstraptoken.Expiration(s); !exp.IsZero() {
			if left := exp.Sub(now); next == 0 || left < next {
				next = left
			}
		}
	}
	return tokens, next
}

// Signatures returns data with every jws-kubeconfig-* key replaced by the signatures of content for tokens (id
// -> secret). A signature that already verifies is kept as is.
func Signatures(data map[string]string, content string, tokens map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range data {
		if !strings.HasPrefix(k, bootstraptoken.JWSSignatureKeyPrefix) {
			out[k] = v
		}
	}
	for id, secret := range tokens {
		k := bootstraptoken.JWSSignatureKeyPrefix + id
		if old, ok := data[k]; ok && bootstraptoken.ValidDetachedSignature(old, content, id, secret) {
			out[k] = old
			continue
		}
		sig, err := bootstraptoken.DetachedSignature(content, id, secret)
		if err != nil {
			return nil, err
		}
		out[k] = sig
	}
	return out, nil
}
