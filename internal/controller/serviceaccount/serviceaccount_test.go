package serviceaccount

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func start(t *testing.T, namespaces ...*corev1.Namespace) *fake.Clientset {
	t.Helper()
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	for _, ns := range namespaces {
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	if err := Start(ctx, client, factory, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := StartRootCAPublisher(ctx, client, factory, []byte(testCA)); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	return client
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(err)
}

func activeNS(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
}

func checkRootCA(client *fake.Clientset, ns string) error {
	cm, err := client.CoreV1().ConfigMaps(ns).Get(context.Background(), RootCACertConfigMapName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if len(cm.Data) != 1 || cm.Data[RootCACertKey] != testCA || cm.Annotations[DescriptionAnnotation] != Description {
		return fmt.Errorf("configmap %+v", cm)
	}
	return nil
}

func TestDefaultServiceAccountAndRootCA(t *testing.T) {
	ctx := context.Background()
	client := start(t, activeNS("a"))
	eventually(t, func() error {
		_, err := client.CoreV1().ServiceAccounts("a").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	eventually(t, func() error { return checkRootCA(client, "a") })

	// A namespace created later gets both too.
	if _, err := client.CoreV1().Namespaces().Create(ctx, activeNS("b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, err := client.CoreV1().ServiceAccounts("b").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	eventually(t, func() error { return checkRootCA(client, "b") })

	// Deleted: created again.
	if err := client.CoreV1().ServiceAccounts("a").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().ConfigMaps("a").Delete(ctx, RootCACertConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, err := client.CoreV1().ServiceAccounts("a").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	eventually(t, func() error { return checkRootCA(client, "a") })

	// Edited: put back (other keys go, the description comes back, other annotations stay).
	cm, err := client.CoreV1().ConfigMaps("b").Get(ctx, RootCACertConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{RootCACertKey: "tampered", "extra": "x"}
	cm.Annotations = map[string]string{"mine": "yes"}
	if _, err := client.CoreV1().ConfigMaps("b").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if err := checkRootCA(client, "b"); err != nil {
			return err
		}
		cm, _ := client.CoreV1().ConfigMaps("b").Get(ctx, RootCACertConfigMapName, metav1.GetOptions{})
		if cm.Annotations["mine"] != "yes" {
			return fmt.Errorf("annotations %v", cm.Annotations)
		}
		return nil
	})
}

func TestTerminatingNamespaceGetsNoServiceAccount(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gone"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	client := start(t, ns, activeNS("live"))
	eventually(t, func() error {
		_, err := client.CoreV1().ServiceAccounts("live").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	time.Sleep(100 * time.Millisecond)
	if _, err := client.CoreV1().ServiceAccounts("gone").Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("service account in a terminating namespace: %v", err)
	}
}
