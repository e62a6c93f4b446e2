package serviceaccount

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestTokensController(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	client := fake.NewClientset(
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "robot", UID: "robot-uid"}})
	factory := informers.NewSharedInformerFactory(client, 0)
	gen := func(sa *corev1.ServiceAccount, secret string) (string, error) {
		return "tok:" + sa.Namespace + "/" + sa.Name + "/" + string(sa.UID) + "/" + secret, nil
	}
	if err := StartTokens(ctx, client, factory, TokensOptions{Generate: gen, RootCA: []byte(testCA)}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	secrets := client.CoreV1().Secrets("a")
	create := func(name, sa string) {
		t.Helper()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{corev1.ServiceAccountNameKey: sa}},
			Type: corev1.SecretTypeServiceAccountToken}
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(name string) func() error {
		return func() error {
			if _, err := secrets.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("secret %s still there (%v)", name, err)
			}
			return nil
		}
	}

	// A Secret of an existing ServiceAccount is filled in.
	create("robot-token", "robot")
	eventually(t, func() error {
		s, err := secrets.Get(ctx, "robot-token", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if string(s.Data["token"]) != "tok:a/robot/robot-uid/robot-token" || string(s.Data["ca.crt"]) != testCA ||
			string(s.Data["namespace"]) != "a" || s.Annotations[corev1.ServiceAccountUIDKey] != "robot-uid" {
			return fmt.Errorf("secret %+v", s)
		}
		return nil
	})
	// A Secret of a missing ServiceAccount is deleted, as is one recording another UID.
	create("ghost-token", "ghost")
	eventually(t, gone("ghost-token"))
	stale := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "stale-token", Annotations: map[string]string{
		corev1.ServiceAccountNameKey: "robot", corev1.ServiceAccountUIDKey: "old-uid"}}, Type: corev1.SecretTypeServiceAccountToken}
	if _, err := secrets.Create(ctx, stale, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, gone("stale-token"))
	// Other Secret types are left alone.
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "plain", Annotations: map[string]string{
		corev1.ServiceAccountNameKey: "ghost"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Deleting the ServiceAccount deletes its token Secret.
	if err := client.CoreV1().ServiceAccounts("a").Delete(ctx, "robot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, gone("robot-token"))
	if _, err := secrets.Get(ctx, "plain", metav1.GetOptions{}); err != nil {
		t.Fatalf("an opaque secret was touched: %v", err)
	}
}
