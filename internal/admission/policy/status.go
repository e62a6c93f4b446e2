package policy

import (
	"context"
	"log/slog"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
)

// statusWriter is a small policy status controller: it sets status.observedGeneration to the policy's
// generation and status.typeChecking to an empty result. Upstream type-checks expressions against the
// OpenAPI schemas of the matched kinds and lists warnings there; skiff does not (objects are untyped in
// CEL), so typeChecking never has expressionWarnings.
type statusWriter struct {
	client kubernetes.Interface
	queue  workqueue.TypedRateLimitingInterface[string]
}

func newStatusWriter(client kubernetes.Interface) *statusWriter {
	return &statusWriter{client: client, queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
}

func (s *statusWriter) enqueue(o any) {
	pol, ok := o.(*admissionregv1.ValidatingAdmissionPolicy)
	if !ok || (pol.Status.ObservedGeneration == pol.Generation && pol.Status.TypeChecking != nil) {
		return
	}
	s.queue.Add(pol.Name)
}

func (s *statusWriter) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
	for {
		name, quit := s.queue.Get()
		if quit {
			return
		}
		err := s.sync(ctx, name)
		if err != nil && ctx.Err() == nil {
			slog.Warn("validating admission policy status", "policy", name, "err", err)
			s.queue.AddRateLimited(name)
		} else {
			s.queue.Forget(name)
		}
		s.queue.Done(name)
	}
}

func (s *statusWriter) sync(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pol, err := s.client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pol.Status.ObservedGeneration == pol.Generation && pol.Status.TypeChecking != nil {
		return nil
	}
	pol.Status.ObservedGeneration = pol.Generation
	pol.Status.TypeChecking = &admissionregv1.TypeChecking{}
	_, err = s.client.AdmissionregistrationV1().ValidatingAdmissionPolicies().UpdateStatus(ctx, pol, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // a newer version is on its way through the informer
	}
	return err
}
