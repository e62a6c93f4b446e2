package serviceaccount

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The ConfigMap the root CA publisher keeps in every namespace, as upstream names and describes it.
const (
	RootCACertConfigMapName = "kube-root-ca.crt"
	RootCACertKey           = "ca.crt"
	DescriptionAnnotation   = "kubernetes.io/description"
	Description             = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

type publisher struct {
	client   kubernetes.Interface
	rootCA   []byte
	cmLister corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// StartRootCAPublisher registers the root CA publisher's handlers on the shared informers and starts its
// worker, which stops when ctx ends. rootCA is the PEM bundle published as ca.crt.
func StartRootCAPublisher(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, rootCA []byte) error {
	nsInf := factory.Core().V1().Namespaces()
	cmInf := factory.Core().V1().ConfigMaps()
	p := &publisher{client: client, rootCA: rootCA, cmLister: cmInf.Lister(),
		synced: []cache.InformerSynced{nsInf.Informer().HasSynced, cmInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "root_ca_cert_publisher"})}
	onConfigMap := func(obj any) {
		if cm, ok := unwrap(obj).(*corev1.ConfigMap); ok && cm.Name == RootCACertConfigMapName {
			p.queue.Add(cm.Namespace)
		}
	}
	if _, err := cmInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { onConfigMap(obj) },
		DeleteFunc: onConfigMap,
	}); err != nil {
		return err
	}
	if _, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok {
				p.queue.Add(ns.Name)
			}
		},
		UpdateFunc: func(_, obj any) {
			// As upstream: a namespace that is going away gets nothing new.
			if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceActive {
				p.queue.Add(ns.Name)
			}
		},
	}); err != nil {
		return err
	}
	go run(ctx, "root-ca-cert-publisher", p.queue, p.synced, 1, p.sync)
	return nil
}

// sync creates the namespace's kube-root-ca.crt, or puts back its data and annotation.
func (p *publisher) sync(ctx context.Context, ns string) error {
	data := map[string]string{RootCACertKey: string(p.rootCA)}
	cm, err := p.cmLister.ConfigMaps(ns).Get(RootCACertConfigMapName)
	switch {
	case apierrors.IsNotFound(err):
		_, err = p.client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RootCACertConfigMapName, Annotations: map[string]string{DescriptionAnnotation: Description}},
			Data:       data,
		}, metav1.CreateOptions{})
		// Not again for a namespace that is gone or terminating; AlreadyExists retries, to check the one found.
		if err == nil || apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	case err != nil:
		return err
	}
	if maps.Equal(cm.Data, data) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = data
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	_, err = p.client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
