package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	bootstraptoken "skiff/internal/auth/bootstrap"
	"skiff/test/e2e/framework"
)

// TestClusterInfoSigned: the server publishes kube-public/cluster-info (this server and the cluster CA), and the
// bootstrap signer adds a detached JWS of it for a bootstrap token marked for signing, removed with the token.
func TestClusterInfoSigned(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	cms := c.Client.CoreV1().ConfigMaps("kube-public")
	var content string
	eventually(t, 20*time.Second, func() error {
		cm, err := cms.Get(ctx, "cluster-info", metav1.GetOptions{})
		if err != nil {
			return err
		}
		content = cm.Data["kubeconfig"]
		return nil
	})
	kc, err := clientcmd.Load([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	cl := kc.Clusters[""]
	if cl == nil || cl.Server != c.Config.Host || string(cl.CertificateAuthorityData) != string(c.Config.CAData) || len(kc.AuthInfos) != 0 {
		t.Fatalf("cluster-info kubeconfig:\n%s", content)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: "kube-system"},
		Type: corev1.SecretTypeBootstrapToken, StringData: map[string]string{"token-id": "abcdef",
			"token-secret": "0123456789abcdef", "usage-bootstrap-signing": "true", "usage-bootstrap-authentication": "true"}}
	if _, err := c.Client.CoreV1().Secrets("kube-system").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		cm, err := cms.Get(ctx, "cluster-info", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !bootstraptoken.ValidDetachedSignature(cm.Data["jws-kubeconfig-abcdef"], content, "abcdef", "0123456789abcdef") {
			return fmt.Errorf("no valid signature yet: %v", cm.Data)
		}
		return nil
	})
	if err := c.Client.CoreV1().Secrets("kube-system").Delete(ctx, "bootstrap-token-abcdef", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		cm, err := cms.Get(ctx, "cluster-info", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if _, ok := cm.Data["jws-kubeconfig-abcdef"]; ok {
			return fmt.Errorf("signature of a deleted token kept")
		}
		return nil
	})
}
