package certificates

import (
	"context"
	"log/slog"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// startQueue runs handle for every added or updated CSR (a deep copy, from the informer's cache), one worker,
// until ctx ends. A failed handle is retried with backoff.
func startQueue(ctx context.Context, name string, inf certinformers.CertificateSigningRequestInformer,
	handle func(context.Context, *certificatesv1.CertificateSigningRequest) error) error {
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) },
	}); err != nil {
		return err
	}
	lister := inf.Lister()
	go func() {
		defer utilruntime.HandleCrash()
		defer queue.ShutDown()
		if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
			return
		}
		go func() {
			for {
				key, quit := queue.Get()
				if quit {
					return
				}
				csr, err := lister.Get(key)
				if err == nil {
					err = handle(ctx, csr.DeepCopy())
				} else if apierrors.IsNotFound(err) {
					err = nil
				}
				if err != nil {
					slog.Warn(name, "csr", key, "err", err)
					queue.AddRateLimited(key)
				} else {
					queue.Forget(key)
				}
				queue.Done(key)
			}
		}()
		<-ctx.Done()
	}()
	return nil
}

func hasTrueCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && c.Status == "True" {
			return true
		}
	}
	return false
}

// approvalState says whether the request carries an Approved or a Denied condition.
func approvalState(csr *certificatesv1.CertificateSigningRequest) (approved, denied bool) {
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		}
	}
	return approved, denied
}
