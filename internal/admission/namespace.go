package admission

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespaceGetter returns a namespace by name, or a NotFound error.
type NamespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

// NamespaceLifecycle refuses new objects in namespaces that do not exist or are being deleted, and refuses to
// delete the namespaces the system needs, as upstream's NamespaceLifecycle plugin does.
type NamespaceLifecycle struct {
	Get NamespaceGetter
}

// Immortal namespaces cannot be deleted.
var Immortal = map[string]bool{metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true}

// Admit implements Mutator: as upstream, the namespace is checked in the mutating phase already, before any
// mutating webhook (which may have side effects) hears of a write that will be refused.
func (n NamespaceLifecycle) Admit(ctx context.Context, a *Attributes) error {
	return n.Validate(ctx, a)
}

// Validate implements Validator.
func (n NamespaceLifecycle) Validate(ctx context.Context, a *Attributes) error {
	if a.Resource.Group == "" && a.Resource.Resource == "namespaces" {
		if a.Operation == Delete && Immortal[a.Name] {
			return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("this namespace may not be deleted"))
		}
		return nil
	}
	if a.Namespace == "" || a.Operation != Create {
		return nil
	}
	ns, err := n.Get(ctx, a.Namespace)
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		// Events about the objects being cleaned up are still welcome, as upstream allows.
		if a.Resource.Resource == "events" {
			return nil
		}
		err := apierrors.NewForbidden(a.Resource.GroupResource(), a.Name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    corev1.NamespaceTerminatingCause,
			Message: fmt.Sprintf("namespace %s is being terminated", a.Namespace),
			Field:   "metadata.namespace",
		})
		err.ErrStatus.Code = http.StatusForbidden
		return err
	}
	return nil
}
