package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/test/e2e/framework"
)

const saIssuer = "https://kubernetes.default.svc.cluster.local"

// tokenClient is a client that authenticates with a bearer token only.
func tokenClient(t *testing.T, c *framework.Cluster, token string) kubernetes.Interface {
	t.Helper()
	cfg := &rest.Config{Host: c.Config.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: c.Config.CAData}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// tokenIdentity lists pods with the token: 403 naming the user means the token authenticated as that user;
// 401 means it did not. It returns "" for 401 and the Forbidden message otherwise.
func tokenIdentity(t *testing.T, c *framework.Cluster, token string) string {
	t.Helper()
	_, err := tokenClient(t, c, token).CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	switch {
	case apierrors.IsUnauthorized(err):
		return ""
	case apierrors.IsForbidden(err):
		return err.Error()
	}
	t.Fatalf("listing pods with a service account token: want 401 or 403, got %v", err)
	return ""
}

func mustAuthenticateAs(t *testing.T, c *framework.Cluster, token, user string) {
	t.Helper()
	msg := tokenIdentity(t, c, token)
	if !strings.Contains(msg, `User "`+user+`" cannot list resource "pods"`) {
		t.Fatalf("want a 403 for %s, got %q", user, msg)
	}
}

func mustBeUnauthorized(t *testing.T, c *framework.Cluster, token, what string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if msg := tokenIdentity(t, c, token); msg != "" {
			return fmt.Errorf("%s: the token still authenticates: %s", what, msg)
		}
		return nil
	})
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("not a JWT: %v: %q", err, token)
	}
	var m map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// signWith signs claims with a PEM RSA key.
func signWith(t *testing.T, key *rsa.PrivateKey, kid string, claims ...any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	b := jwt.Signed(s)
	for _, c := range claims {
		b = b.Claims(c)
	}
	tok, err := b.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestServiceAccountTokens: `kubectl create token` returns a bound JWT that authenticates as the
// ServiceAccount (403, not 401, on something it may not do); expired, foreign-signed, wrong-audience tokens
// and tokens of deleted pods or ServiceAccounts get 401; the OIDC discovery documents name the issuer and
// publish the key that verifies the tokens.
func TestServiceAccountTokens(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	cs := c.Client
	eventually(t, 20*time.Second, func() error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	sa, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	token := strings.TrimSpace(kubectl(t, c, "create", "token", "default"))
	cl := claimsOf(t, token)
	if cl["iss"] != saIssuer || cl["sub"] != "system:serviceaccount:default:default" || cl["jti"] == nil {
		t.Fatalf("claims %v", cl)
	}
	if aud, _ := cl["aud"].([]any); len(aud) != 1 || aud[0] != saIssuer {
		t.Fatalf("aud %v", cl["aud"])
	}
	if exp, iat := cl["exp"].(float64), cl["iat"].(float64); exp-iat != 3600 {
		t.Fatalf("lifetime %v s, want 3600", exp-iat)
	}
	k8s, _ := cl["kubernetes.io"].(map[string]any)
	if k8s["namespace"] != "default" || k8s["serviceaccount"].(map[string]any)["uid"] != string(sa.UID) {
		t.Fatalf("kubernetes.io claims %v", k8s)
	}
	mustAuthenticateAs(t, c, token, "system:serviceaccount:default:default")

	// TokenRequest validation, as upstream.
	mustContain(t, kubectlFails(t, c, "create", "token", "default", "--duration=5m"), "may not specify a duration less than 10 minutes")
	mustContain(t, kubectlFails(t, c, "create", "token", "nope"), `serviceaccounts "nope" not found`)
	long := strings.TrimSpace(kubectl(t, c, "create", "token", "default", "--duration=2h"))
	if cl := claimsOf(t, long); cl["exp"].(float64)-cl["iat"].(float64) != 7200 {
		t.Fatalf("--duration=2h: %v", cl)
	}

	// Another audience is not the API's: 401.
	other := strings.TrimSpace(kubectl(t, c, "create", "token", "default", "--audience=vault"))
	mustBeUnauthorized(t, c, other, "wrong audience")

	// Same claims, signed by a key the cluster does not trust: 401. Signed by the cluster's key but expired: 401.
	now := time.Now()
	std := jwt.Claims{Issuer: saIssuer, Subject: "system:serviceaccount:default:default", Audience: jwt.Audience{saIssuer},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	private := map[string]any{"kubernetes.io": k8s}
	foreignKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	mustBeUnauthorized(t, c, signWith(t, foreignKey, "", std, private), "foreign key")
	pemData, err := os.ReadFile(filepath.Join(c.DataDir, "tls", "service-account.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemData)
	clusterKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if fresh := signWith(t, clusterKey, "", std, private); tokenIdentity(t, c, fresh) == "" {
		t.Fatalf("a token signed with the cluster's key (the control) does not authenticate")
	}
	expired := std
	expired.IssuedAt, expired.NotBefore, expired.Expiry = jwt.NewNumericDate(now.Add(-3*time.Hour)), jwt.NewNumericDate(now.Add(-3*time.Hour)), jwt.NewNumericDate(now.Add(-2*time.Hour))
	mustBeUnauthorized(t, c, signWith(t, clusterKey, "", expired, private), "expired")

	// Bound to a pod: the token names the pod and dies with it.
	kubectl(t, c, "run", "holder", "--image=docker.io/library/busybox:1.36", "--restart=Never")
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "holder", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// ServiceAccount admission: the pod runs as "default" and mounts the projected token volume.
	if pod.Spec.ServiceAccountName != "default" || len(pod.Spec.Volumes) != 1 || !strings.HasPrefix(pod.Spec.Volumes[0].Name, "kube-api-access-") {
		t.Fatalf("pod spec after admission: serviceAccountName %q, volumes %+v", pod.Spec.ServiceAccountName, pod.Spec.Volumes)
	}
	if m := pod.Spec.Containers[0].VolumeMounts; len(m) != 1 || m[0].MountPath != "/var/run/secrets/kubernetes.io/serviceaccount" || !m[0].ReadOnly {
		t.Fatalf("mounts %+v", m)
	}
	kubectl(t, c, "run", "quiet", "--image=docker.io/library/busybox:1.36", "--restart=Never", `--overrides={"spec":{"automountServiceAccountToken":false}}`)
	if q, err := cs.CoreV1().Pods("default").Get(ctx, "quiet", metav1.GetOptions{}); err != nil || len(q.Spec.Volumes) != 0 {
		t.Fatalf("automountServiceAccountToken false: %v %+v", err, q)
	}
	mustContain(t, kubectlFails(t, c, "run", "ghost", "--image=docker.io/library/busybox:1.36", "--restart=Never", `--overrides={"spec":{"serviceAccountName":"ghost"}}`),
		`pods "ghost" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found`)

	mustContain(t, kubectlFails(t, c, "create", "token", "default", "--bound-object-kind=Pod", "--bound-object-name=holder", "--bound-object-uid=0000"), "does not match the UID in record")
	bound := strings.TrimSpace(kubectl(t, c, "create", "token", "default", "--bound-object-kind=Pod", "--bound-object-name=holder"))
	podClaim, _ := claimsOf(t, bound)["kubernetes.io"].(map[string]any)["pod"].(map[string]any)
	if podClaim["name"] != "holder" || podClaim["uid"] != string(pod.UID) {
		t.Fatalf("pod claim %v", podClaim)
	}
	mustAuthenticateAs(t, c, bound, "system:serviceaccount:default:default")
	kubectl(t, c, "delete", "pod", "holder", "--grace-period=0", "--force")
	mustBeUnauthorized(t, c, bound, "token of a deleted pod")

	// OIDC discovery: readable with the token (as upstream's system:service-account-issuer-discovery), the
	// JWKS verifies the token.
	get := func(path string) []byte {
		t.Helper()
		hc, err := rest.HTTPClientFor(&rest.Config{Host: c.Config.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: c.Config.CAData}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(c.Config.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return body
	}
	root, err := cs.Discovery().RESTClient().Get().AbsPath("/").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(root), "/.well-known/openid-configuration", "/openid/v1/jwks")
	var conf struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(get("/.well-known/openid-configuration"), &conf); err != nil {
		t.Fatal(err)
	}
	if conf.Issuer != saIssuer || !strings.HasSuffix(conf.JWKSURI, "/openid/v1/jwks") || len(conf.Algs) != 1 || conf.Algs[0] != "RS256" {
		t.Fatalf("openid-configuration %+v", conf)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(get("/openid/v1/jwks"), &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("the JWKS has no key %q: %+v", parsed.Headers[0].KeyID, set)
	}
	var verified jwt.Claims
	if err := parsed.Claims(keys[0].Key, &verified); err != nil || verified.Subject != "system:serviceaccount:default:default" {
		t.Fatalf("the JWKS key does not verify the token: %v", err)
	}

	// The ServiceAccount is deleted (and recreated by the controller with a new UID): its tokens die.
	if err := cs.CoreV1().ServiceAccounts("default").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mustBeUnauthorized(t, c, token, "token of a deleted service account")
}

// TestServiceAccountProjectedToken: a pod on the node agent gets token, ca.crt and namespace under
// /var/run/secrets/kubernetes.io/serviceaccount; the token (bound to the pod, 3607 s extended to a year) authenticates from the
// host as the pod's ServiceAccount and stops working once the pod is deleted.
func TestServiceAccountProjectedToken(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")}})
	ctx := context.Background()
	cs := c.Client
	kubectl(t, c, "create", "serviceaccount", "robot")
	kubectl(t, c, "run", "reader", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never",
		`--overrides={"spec":{"serviceAccountName":"robot","terminationGracePeriodSeconds":1}}`, "--", "sleep", "3600")
	var pod *corev1.Pod
	eventually(t, 60*time.Second, func() error {
		var err error
		if pod, err = cs.CoreV1().Pods("default").Get(ctx, "reader", metav1.GetOptions{}); err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", pod.Status.Phase)
		}
		return nil
	})
	const dir = "/var/run/secrets/kubernetes.io/serviceaccount/"
	mustContain(t, kubectl(t, c, "exec", "reader", "--", "ls", dir), "token", "ca.crt", "namespace")
	if ns := kubectl(t, c, "exec", "reader", "--", "cat", dir+"namespace"); ns != "default" {
		t.Fatalf("namespace file %q", ns)
	}
	if ca := kubectl(t, c, "exec", "reader", "--", "cat", dir+"ca.crt"); ca != string(c.Config.CAData) {
		t.Fatalf("ca.crt differs from the cluster CA:\n%s", ca)
	}
	token := strings.TrimSpace(kubectl(t, c, "exec", "reader", "--", "cat", dir+"token"))
	cl := claimsOf(t, token)
	// 3607 s asked: with --service-account-extend-token-expiration (default) the token lives a year and
	// carries warnafter at 3607 s, as upstream.
	if cl["exp"].(float64)-cl["iat"].(float64) != 365*24*3600 || cl["sub"] != "system:serviceaccount:default:robot" {
		t.Fatalf("claims %v", cl)
	}
	if wa, _ := cl["kubernetes.io"].(map[string]any)["warnafter"].(float64); wa-cl["iat"].(float64) != 3607 {
		t.Fatalf("warnafter %v", cl["kubernetes.io"])
	}
	podClaim, _ := cl["kubernetes.io"].(map[string]any)["pod"].(map[string]any)
	if podClaim["name"] != "reader" || podClaim["uid"] != string(pod.UID) {
		t.Fatalf("pod claim %v", podClaim)
	}
	mustAuthenticateAs(t, c, token, "system:serviceaccount:default:robot")

	// With a Role bound to it, the pod's token has exactly those rights: pods in default, nothing else.
	kubectl(t, c, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
	kubectl(t, c, "create", "rolebinding", "robot-reads-pods", "--role=pod-reader", "--serviceaccount=default:robot")
	client := tokenClient(t, c, token)
	eventually(t, 10*time.Second, func() error { // the RBAC informers see the binding shortly after
		_, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		return err
	})
	if _, err := client.CoreV1().Secrets("default").List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing secrets with the pod's token: %v, want 403", err)
	}
	if _, err := client.CoreV1().Pods("kube-system").List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing pods in kube-system with the pod's token: %v, want 403", err)
	}
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("creating a pod with the pod's token: %v, want 403", err)
	}

	// The node agent's server answers only callers the API authorizes (SubjectAccessReview on nodes/proxy):
	// a user with a certificate of the cluster CA is refused; the API server's own calls (kubectl logs) pass.
	node, err := c.Client.CoreV1().Nodes().Get(context.Background(), "skiff-e2e", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	aliceTLS, err := rest.TLSConfigFor(userConfig(t, c, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	aliceTLS.InsecureSkipVerify = true // the node's serving certificate names its addresses, not necessarily this one
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: aliceTLS}}).Get(
		fmt.Sprintf("https://127.0.0.1:%d/containerLogs/default/reader/reader", node.Status.DaemonEndpoints.KubeletEndpoint.Port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)") {
		t.Fatalf("alice at the node agent: %d %q, want 403", resp.StatusCode, body)
	}
	kubectl(t, c, "logs", "reader")

	// The token dies with its pod.
	kubectl(t, c, "delete", "pod", "reader", "--wait=true", "--timeout=60s")
	eventually(t, 10*time.Second, func() error {
		_, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("token of a deleted pod: %v, want 401", err)
		}
		return nil
	})
}

// kubectlToken runs kubectl with only a bearer token (no client certificate) against the cluster.
func kubectlToken(t *testing.T, c *framework.Cluster, token string, args ...string) (string, string, error) {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "token.kubeconfig")
	ca := filepath.Join(filepath.Dir(kc), "ca.crt")
	if err := os.WriteFile(ca, c.Config.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority: %s\n"+
		"users:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n", c.Config.Host, ca)
	if err := os.WriteFile(kc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, append([]string{"kubectl", "--kubeconfig", kc, "--token", token}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestLegacyServiceAccountTokenSecret: a Secret of type kubernetes.io/service-account-token is filled by the
// tokens controller with a non-expiring token of the legacy issuer; the token works (with the ServiceAccount's
// rights) while the Secret exists, its use is recorded on the Secret, and it is refused once the Secret is
// deleted. A Secret without the ServiceAccount annotation is refused.
func TestLegacyServiceAccountTokenSecret(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	cs := c.Client
	kubectl(t, c, "create", "serviceaccount", "robot")
	kubectl(t, c, "create", "rolebinding", "robot-view", "--clusterrole=view", "--serviceaccount=default:robot")
	msg := kubectlInFails(t, c, "apiVersion: v1\nkind: Secret\nmetadata: {name: nameless}\ntype: kubernetes.io/service-account-token\n", "create", "-f", "-")
	if !strings.Contains(msg, "metadata.annotations[kubernetes.io/service-account.name]: Required value") {
		t.Fatalf("secret without its service account annotation: %s", msg)
	}
	kubectlIn(t, c, `apiVersion: v1
kind: Secret
metadata:
  name: robot-token
  annotations:
    kubernetes.io/service-account.name: robot
type: kubernetes.io/service-account-token
`, "create", "-f", "-")
	var secret *corev1.Secret
	eventually(t, 30*time.Second, func() error {
		s, err := cs.CoreV1().Secrets("default").Get(ctx, "robot-token", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Data["token"]) == 0 || len(s.Data["ca.crt"]) == 0 || string(s.Data["namespace"]) != "default" {
			return fmt.Errorf("secret not filled yet: %v", s.Annotations)
		}
		secret = s
		return nil
	})
	sa, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "robot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Annotations["kubernetes.io/service-account.uid"] != string(sa.UID) {
		t.Fatalf("uid annotation %v, service account %s", secret.Annotations, sa.UID)
	}
	token := string(secret.Data["token"])
	cl := claimsOf(t, token)
	if cl["iss"] != "kubernetes/serviceaccount" || cl["kubernetes.io/serviceaccount/secret.name"] != "robot-token" || cl["exp"] != nil {
		t.Fatalf("claims %v", cl)
	}
	// view in default: pods can be listed, secrets cannot.
	if out, errOut, err := kubectlToken(t, c, token, "get", "pods", "-n", "default"); err != nil {
		t.Fatalf("kubectl --token get pods: %v: %s %s", err, out, errOut)
	}
	if out, _, _ := kubectlToken(t, c, token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "system:serviceaccount:default:robot" {
		t.Fatalf("whoami %q", out)
	}
	if _, errOut, err := kubectlToken(t, c, token, "get", "secrets"); err == nil || !strings.Contains(errOut, "Forbidden") {
		t.Fatalf("kubectl --token get secrets: %v %s", err, errOut)
	}
	// The use is recorded on the Secret (once a day).
	eventually(t, 20*time.Second, func() error {
		s, err := cs.CoreV1().Secrets("default").Get(ctx, "robot-token", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Labels["kubernetes.io/legacy-token-last-used"] != time.Now().UTC().Format("2006-01-02") {
			return fmt.Errorf("labels %v", s.Labels)
		}
		return nil
	})
	kubectl(t, c, "delete", "secret", "robot-token")
	eventually(t, 10*time.Second, func() error {
		_, errOut, err := kubectlToken(t, c, token, "get", "pods")
		if err == nil || !strings.Contains(errOut, "Unauthorized") {
			return fmt.Errorf("token of a deleted secret: %v %s", err, errOut)
		}
		return nil
	})

	// Deleting the ServiceAccount deletes its token Secrets.
	kubectlIn(t, c, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: robot-token2\n  annotations: {kubernetes.io/service-account.name: robot}\ntype: kubernetes.io/service-account-token\n", "create", "-f", "-")
	eventually(t, 30*time.Second, func() error {
		s, err := cs.CoreV1().Secrets("default").Get(ctx, "robot-token2", metav1.GetOptions{})
		if err != nil || len(s.Data["token"]) == 0 {
			return fmt.Errorf("not filled: %v", err)
		}
		return nil
	})
	kubectl(t, c, "delete", "serviceaccount", "robot")
	eventually(t, 30*time.Second, func() error {
		if _, err := cs.CoreV1().Secrets("default").Get(ctx, "robot-token2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("secret of a deleted service account: %v", err)
		}
		return nil
	})
}
