package bootstrapsigner

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	bootstraptoken "skiff/internal/auth/bootstrap"
)

func token(id, secret string, sign bool, expiration string) *corev1.Secret {
	data := map[string][]byte{bootstraptoken.KeyTokenID: []byte(id), bootstraptoken.KeyTokenSecret: []byte(secret)}
	if sign {
		data[bootstraptoken.KeyUsageSigning] = []byte("true")
	}
	if expiration != "" {
		data[bootstraptoken.KeyExpiration] = []byte(expiration)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: bootstraptoken.SecretPrefix + id},
		Type: bootstraptoken.SecretType, Data: data}
}

func TestSigner(t *testing.T) {
	const kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-public", Name: "cluster-info"},
			Data: map[string]string{"kubeconfig": kubeconfig, "jws-kubeconfig-gone00": "stale"}},
		token("abcdef", "0123456789abcdef", true, ""),
		token("nosign", "0123456789abcdef", false, ""),
		token("old000", "0123456789abcdef", true, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)),
	)
	if err := Start(ctx, client); err != nil {
		t.Fatal(err)
	}
	check := func(want ...string) error {
		cm, err := client.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(cm.Data) != len(want)+1 || cm.Data["kubeconfig"] != kubeconfig {
			return fmt.Errorf("data %v, want signatures of %v", cm.Data, want)
		}
		for _, id := range want {
			if !bootstraptoken.ValidDetachedSignature(cm.Data["jws-kubeconfig-"+id], kubeconfig, id, "0123456789abcdef") {
				return fmt.Errorf("signature of %s: %q", id, cm.Data["jws-kubeconfig-"+id])
			}
		}
		return nil
	}
	eventually(t, func() error { return check("abcdef") })
	// A new signing token is added; a deleted one is removed.
	if _, err := client.CoreV1().Secrets("kube-system").Create(ctx, token("second", "0123456789abcdef", true, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { return check("abcdef", "second") })
	if err := client.CoreV1().Secrets("kube-system").Delete(ctx, bootstraptoken.SecretPrefix+"abcdef", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { return check("second") })
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
