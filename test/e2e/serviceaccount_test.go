package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestServiceAccountAndRootCA: a new namespace gets the "default" ServiceAccount and the kube-root-ca.crt
// ConfigMap (the cluster CA, which verifies the API server's certificate); both come back when deleted, and an
// edited ca.crt is put back.
func TestServiceAccountAndRootCA(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	cs := c.Client
	kubectl(t, c, "create", "namespace", "x")

	waitSA := func() {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			_, err := cs.CoreV1().ServiceAccounts("x").Get(ctx, "default", metav1.GetOptions{})
			return err
		})
	}
	waitCA := func() *corev1.ConfigMap {
		t.Helper()
		var cm *corev1.ConfigMap
		eventually(t, 20*time.Second, func() error {
			var err error
			if cm, err = cs.CoreV1().ConfigMaps("x").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
				return err
			}
			if !bytes.Equal([]byte(cm.Data["ca.crt"]), c.Config.CAData) {
				return fmt.Errorf("ca.crt differs from the kubeconfig's certificate-authority-data:\n%s", cm.Data["ca.crt"])
			}
			return nil
		})
		return cm
	}
	waitSA()
	cm := waitCA()
	if d := cm.Annotations["kubernetes.io/description"]; d == "" {
		t.Fatalf("annotations %v", cm.Annotations)
	}
	mustContain(t, kubectl(t, c, "get", "serviceaccounts", "-n", "x"), "default")
	// The system namespaces have them too.
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		eventually(t, 20*time.Second, func() error {
			if _, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
				return err
			}
			_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return err
		})
	}

	// ca.crt verifies the server's certificate.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(cm.Data["ca.crt"])) {
		t.Fatalf("ca.crt holds no certificate")
	}
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)), &tls.Config{RootCAs: pool, ServerName: "kubernetes.default.svc"})
	if err != nil {
		t.Fatalf("the server's certificate does not verify with kube-root-ca.crt: %v", err)
	}
	conn.Close()

	// Deleted: back again.
	kubectl(t, c, "delete", "serviceaccount", "default", "-n", "x")
	kubectl(t, c, "delete", "configmap", "kube-root-ca.crt", "-n", "x")
	waitSA()
	waitCA()

	// Edited: put back.
	kubectl(t, c, "patch", "configmap", "kube-root-ca.crt", "-n", "x", "--type=merge", "-p", `{"data":{"ca.crt":"tampered"}}`)
	waitCA()

	// A terminating namespace gets nothing new: deleting it lets the namespace controller empty it and go.
	kubectl(t, c, "delete", "namespace", "x", "--wait=false")
	eventually(t, 60*time.Second, func() error {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace x still there (%v)", err)
		}
		return nil
	})
}
