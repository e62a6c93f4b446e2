package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/test/e2e/framework"
)

// testCSR returns a PEM certificate request for a throwaway key.
func testCSR(t *testing.T) []byte {
	t.Helper()
	_, req := csrKeyAndRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "test"}})
	return req
}

// csrKeyAndRequest returns a new key (PEM) and a PEM certificate request of it for tmpl.
func csrKeyAndRequest(t *testing.T, tmpl x509.CertificateRequest) (keyPEM, reqPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// csrWaitIssued waits for the named request to carry a certificate and returns it.
func csrWaitIssued(t *testing.T, c kubernetes.Interface, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var csr *certificatesv1.CertificateSigningRequest
	eventually(t, 30*time.Second, func() error {
		got, err := c.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(got.Status.Certificate) == 0 {
			return fmt.Errorf("csr %s not issued: %+v", name, got.Status.Conditions)
		}
		csr = got
		return nil
	})
	return csr
}

func csrCondition(csr *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Type == typ {
			return &csr.Status.Conditions[i]
		}
	}
	return nil
}

// certKubectl runs kubectl authenticating with only the given client certificate and key.
func certKubectl(t *testing.T, c *framework.Cluster, certPEM, keyPEM []byte, args ...string) (string, string, error) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, ai := range cfg.AuthInfos {
		ai.ClientCertificate, ai.ClientKey, ai.Token = "", "", ""
		ai.ClientCertificateData, ai.ClientKeyData = certPEM, keyPEM
		cfg.AuthInfos[name] = ai
	}
	path := filepath.Join(t.TempDir(), "cert.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, append([]string{"kubectl", "--kubeconfig", path}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func csrManifest(name, signer string, req []byte, usages ...string) string {
	return fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: %s
spec:
  request: %s
  signerName: %s
  expirationSeconds: 86400
  usages: [%s]
`, name, base64.StdEncoding.EncodeToString(req), signer, strings.Join(usages, ", "))
}

// TestCertificateSigningRequests: a user certificate signed through the API and used with kubectl; a node
// client certificate requested with a bootstrap token, auto-approved and issued; a signer's restrictions; the
// system:masters subject restriction; approval needs approve on the signer.
func TestCertificateSigningRequests(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	csrs := c.Client.CertificatesV1().CertificateSigningRequests()

	t.Run("user certificate", func(t *testing.T) {
		key, req := csrKeyAndRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "jane", Organization: []string{"dev"}}})
		kubectlIn(t, c, csrManifest("jane", "kubernetes.io/kube-apiserver-client", req, "client auth"), "apply", "-f", "-")
		mustContain(t, kubectl(t, c, "get", "csr", "jane"), "Pending", "kubernetes.io/kube-apiserver-client")
		// The server records who asked.
		if got := kubectl(t, c, "get", "csr", "jane", "-o", "jsonpath={.spec.username}"); got != "admin" {
			t.Fatalf("spec.username %q, want admin", got)
		}
		mustContain(t, kubectl(t, c, "certificate", "approve", "jane"), "approved")
		csr := csrWaitIssued(t, c.Client, "jane")
		if a := csrCondition(csr, certificatesv1.CertificateApproved); a == nil || a.LastUpdateTime.IsZero() {
			t.Fatalf("approved condition: %+v", csr.Status.Conditions)
		}
		mustContain(t, kubectl(t, c, "get", "csr", "jane"), "Approved,Issued")
		block, _ := pem.Decode(csr.Status.Certificate)
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		// expirationSeconds: 86400 within the default 8760h cap; backdated 5 minutes at both ends.
		if d := cert.NotAfter.Sub(cert.NotBefore); d != 24*time.Hour {
			t.Fatalf("certificate lifetime %v, want 24h", d)
		}
		out, errOut, err := certKubectl(t, c, csr.Status.Certificate, key, "auth", "whoami")
		if err != nil {
			t.Fatalf("kubectl as jane: %v\n%s", err, errOut)
		}
		mustContain(t, out, "jane", "dev")
		_, errOut, _ = certKubectl(t, c, csr.Status.Certificate, key, "get", "pods")
		mustContain(t, errOut, `User "jane" cannot list resource "pods"`)
	})

	t.Run("system:masters refused", func(t *testing.T) {
		_, req := csrKeyAndRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "root", Organization: []string{"system:masters"}}})
		errOut := kubectlInFails(t, c, csrManifest("root", "kubernetes.io/kube-apiserver-client", req, "client auth"), "create", "-f", "-")
		mustContain(t, errOut, `use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`)
	})

	t.Run("signer restrictions", func(t *testing.T) {
		// kubelet-serving needs DNS or IP names: approved, then failed by the signer.
		_, req := csrKeyAndRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}})
		kubectlIn(t, c, csrManifest("serving-no-san", "kubernetes.io/kubelet-serving", req, "digital signature", "key encipherment", "server auth"), "apply", "-f", "-")
		kubectl(t, c, "certificate", "approve", "serving-no-san")
		eventually(t, 30*time.Second, func() error {
			got, err := csrs.Get(ctx, "serving-no-san", metav1.GetOptions{})
			if err != nil {
				return err
			}
			f := csrCondition(got, certificatesv1.CertificateFailed)
			if f == nil {
				return fmt.Errorf("no Failed condition: %+v", got.Status.Conditions)
			}
			if f.Reason != "SignerValidationFailure" || f.Message != "DNS or IP subjectAltName is required" || len(got.Status.Certificate) > 0 {
				return fmt.Errorf("failed condition %+v", f)
			}
			return nil
		})
		mustContain(t, kubectl(t, c, "get", "csr", "serving-no-san"), "Approved,Failed")
	})

	t.Run("approve needs the signer", func(t *testing.T) {
		_, req := csrKeyAndRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "sam"}})
		kubectlIn(t, c, csrManifest("sam", "kubernetes.io/kube-apiserver-client", req, "client auth"), "apply", "-f", "-")
		// mallory may update approvals, but approve no signer.
		mkRole := func(name string, rules ...rbacv1.PolicyRule) {
			if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
				Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "mallory"}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		mkRole("csr-approval-updater",
			rbacv1.PolicyRule{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"get", "list"}},
			rbacv1.PolicyRule{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests/approval"}, Verbs: []string{"update"}})
		mallory := userClient(t, c, "mallory")
		approve := func() error {
			got, err := mallory.CertificatesV1().CertificateSigningRequests().Get(ctx, "sam", metav1.GetOptions{})
			if err != nil {
				return err
			}
			got.Status.Conditions = append(got.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
				Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Mallory", Message: "approved by mallory"})
			_, err = mallory.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "sam", got, metav1.UpdateOptions{})
			return err
		}
		eventually(t, 10*time.Second, func() error {
			err := approve()
			if apierrors.IsForbidden(err) && strings.Contains(err.Error(),
				`certificatesigningrequests.certificates.k8s.io "sam" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`) {
				return nil
			}
			return fmt.Errorf("approval by mallory: %v, want 403", err)
		})
		// approve on the domain wildcard is enough.
		mkRole("csr-approver-kubernetes-io", rbacv1.PolicyRule{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"signers"},
			ResourceNames: []string{"kubernetes.io/*"}, Verbs: []string{"approve"}})
		eventually(t, 10*time.Second, approve)
		csrWaitIssued(t, c.Client, "sam")
	})

	t.Run("node client with a bootstrap token", func(t *testing.T) {
		_, err := c.Client.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-csrtok"}, Type: corev1.SecretTypeBootstrapToken,
			StringData: map[string]string{"token-id": "csrtok", "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true",
				"expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := rest.AnonymousClientConfig(c.Config)
		cfg.BearerToken = "csrtok.0123456789abcdef"
		boot, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		key, req := csrKeyAndRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:worker-1", Organization: []string{"system:nodes"}}})
		csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-"},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
				Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}}}
		var created *certificatesv1.CertificateSigningRequest
		eventually(t, 30*time.Second, func() error { // the token authenticates once the authenticator saw the Secret
			created, err = boot.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
			return err
		})
		if created.Spec.Username != "system:bootstrap:csrtok" || !strings.Contains(strings.Join(created.Spec.Groups, ","), "system:bootstrappers") {
			t.Fatalf("requester %q %v", created.Spec.Username, created.Spec.Groups)
		}
		got := csrWaitIssued(t, boot, created.Name)
		a := csrCondition(got, certificatesv1.CertificateApproved)
		if a == nil || a.Reason != "AutoApproved" || a.Message != "Auto approving kubelet client certificate after SubjectAccessReview." {
			t.Fatalf("approval: %+v", got.Status.Conditions)
		}
		out, errOut, err := certKubectl(t, c, got.Status.Certificate, key, "auth", "whoami")
		if err != nil {
			t.Fatalf("kubectl as the node: %v\n%s", err, errOut)
		}
		mustContain(t, out, "system:node:worker-1", "system:nodes")
	})

	t.Run("nodeclient permission", func(t *testing.T) {
		// bob may not even create requests; system:masters may create nodeclient, so admin's node request is auto-approved.
		_, req := csrKeyAndRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:worker-2", Organization: []string{"system:nodes"}}})
		_, err := userClient(t, c, "bob").CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "bob-node"}, Spec: certificatesv1.CertificateSigningRequestSpec{Request: req,
				SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
				Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}}}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("bob may not create CSRs: %v", err)
		}
		kubectlIn(t, c, csrManifest("admin-node", certificatesv1.KubeAPIServerClientKubeletSignerName, req, "digital signature", "client auth"), "apply", "-f", "-")
		csrWaitIssued(t, c.Client, "admin-node")
	})
}
