package server

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/admission"
)

// systemNamespaces exist from the start, as on upstream clusters.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates the objects every cluster has, through the API like any client.
func bootstrap(ctx context.Context, client kubernetes.Interface) error {
	for _, name := range systemNamespaces {
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{FieldManager: "skiff-bootstrap"})
			if err == nil || apierrors.IsAlreadyExists(err) {
				err = nil
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err != nil {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
	}
	for _, pc := range admission.SystemPriorityClasses {
		pc := pc
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, &pc, metav1.CreateOptions{FieldManager: "skiff-bootstrap"}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("priority class %s: %w", pc.Name, err)
		}
	}
	return nil
}
