package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/auth/oidc/oidctest"
	"skiff/test/e2e/framework"
)

// TestAuthnExternalTokens runs one control plane with every bearer token kind skiff accepts besides service
// accounts: OIDC (a test issuer on loopback that is down when the server starts), a static token file and
// bootstrap tokens; and anonymous requests. Without RBAC in this tree, identities show through the 403 message
// (User "x" cannot ...) and through system:masters groups, which are allowed.
func TestAuthnExternalTokens(t *testing.T) {
	iss := oidctest.Start(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "oidc-ca.crt")
	tokenFile := filepath.Join(dir, "tokens.csv")
	writeFile(t, caFile, string(iss.CAPEM()))
	writeFile(t, tokenFile, "static-carol-token,carol,uid-carol,\"devs,system:masters\"\nstatic-dave-token,dave,uid-dave,devs\n")
	// The issuer is down while the server starts: start-up must not wait for it.
	iss.Close()
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler",
		"--oidc-issuer-url", iss.URL, "--oidc-client-id", "skiff", "--oidc-ca-file", caFile,
		"--oidc-username-prefix", "oidc:", "--oidc-groups-claim", "groups", "--oidc-required-claim", "tenant=blue",
		"--token-auth-file", tokenFile}})
	claims := func(sub string, edit map[string]any) map[string]any {
		m := map[string]any{"iss": iss.URL, "aud": "skiff", "sub": sub, "tenant": "blue", "groups": []string{"devs"},
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range edit {
			m[k] = v
		}
		return m
	}
	alice := iss.Sign(t, claims("alice", nil))

	t.Run("oidc issuer down: tokens refused, server up", func(t *testing.T) {
		expectStatus(t, c, alice, "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	})
	iss.Restart(t)
	t.Run("oidc username with prefix", func(t *testing.T) {
		// The server retries discovery in the background.
		eventually(t, 90*time.Second, func() error {
			return checkStatus(c, alice, "/api/v1/namespaces/default/pods", 403, `User "oidc:alice" cannot list resource "pods" in API group "" in the namespace "default"`)
		})
		// kubectl with the token: refused as that user (--raw, since a user without discovery rights only gets
		// kubectl's "unknown" from discovery).
		_, errOut, err := tokenKubectl(t, c, alice, "get", "--raw", "/api/v1/namespaces/default/pods")
		if err == nil || !strings.Contains(errOut, `User "oidc:alice" cannot list resource "pods"`) {
			t.Fatalf("kubectl as alice: err=%v stderr=%s", err, errOut)
		}
	})
	t.Run("oidc groups claim", func(t *testing.T) {
		bob := iss.Sign(t, claims("bob", map[string]any{"groups": []string{"devs", "system:masters"}}))
		out, errOut, err := tokenKubectl(t, c, bob, "get", "namespaces", "-o", "name")
		if err != nil || !strings.Contains(out, "namespace/default") {
			t.Fatalf("kubectl as bob (group system:masters): err=%v\n%s%s", err, out, errOut)
		}
	})
	t.Run("oidc refusals are 401", func(t *testing.T) {
		for name, tok := range map[string]string{
			"expired":         iss.Sign(t, claims("alice", map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})),
			"wrong signature": iss.Forge(t, claims("alice", nil)),
			"wrong audience":  iss.Sign(t, claims("alice", map[string]any{"aud": "someone-else"})),
			"required claim":  iss.Sign(t, claims("alice", map[string]any{"tenant": "red"})),
			"garbage":         "not-a-token",
			"unknown issuer":  iss.Sign(t, claims("alice", map[string]any{"iss": "https://elsewhere.example"})),
		} {
			t.Run(name, func(t *testing.T) {
				// Never anonymous: even a public path refuses a bad token.
				expectStatus(t, c, tok, "/healthz", 401, "Unauthorized")
				expectStatus(t, c, tok, "/api/v1/namespaces/default/pods", 401, "Unauthorized")
			})
		}
		_, errOut, err := tokenKubectl(t, c, iss.Sign(t, claims("alice", map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), "get", "pods")
		if err == nil || !strings.Contains(errOut, "Unauthorized") {
			t.Fatalf("kubectl with an expired token: err=%v stderr=%s", err, errOut)
		}
	})
	t.Run("oidc key rotation", func(t *testing.T) {
		before := iss.JWKSFetches.Load()
		iss.Rotate()
		rotated := iss.Sign(t, claims("erin", nil))
		// The first token with the new kid may fall within the refetch rate limit; it is accepted once the
		// server has refetched the issuer's keys.
		eventually(t, 60*time.Second, func() error {
			return checkStatus(c, rotated, "/api/v1/namespaces/default/pods", 403, `User "oidc:erin"`)
		})
		if iss.JWKSFetches.Load() == before {
			t.Fatal("the key set was never refetched")
		}
		// Tokens of the retired key are refused now.
		expectStatus(t, c, alice, "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	})
	t.Run("static token file", func(t *testing.T) {
		out, errOut, err := tokenKubectl(t, c, "static-carol-token", "get", "namespaces", "-o", "name")
		if err != nil || !strings.Contains(out, "namespace/default") {
			t.Fatalf("kubectl as carol: err=%v\n%s%s", err, out, errOut)
		}
		expectStatus(t, c, "static-dave-token", "/api/v1/namespaces/default/pods", 403, `User "dave" cannot list resource "pods"`)
		expectStatus(t, c, "static-nobody-token", "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	})
	t.Run("bootstrap tokens", func(t *testing.T) {
		ctx := context.Background()
		mk := func(id, secret string, expires time.Time, extra map[string]string) {
			data := map[string]string{"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true",
				"expiration": expires.UTC().Format(time.RFC3339)}
			for k, v := range extra {
				data[k] = v
			}
			_, err := c.Client.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id}, Type: corev1.SecretTypeBootstrapToken, StringData: data}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
		}
		mk("abcdef", "0123456789abcdef", time.Now().Add(time.Hour), map[string]string{"auth-extra-groups": "system:bootstrappers:worker"})
		mk("expird", "0123456789abcdef", time.Now().Add(-time.Minute), nil)
		eventually(t, 30*time.Second, func() error {
			return checkStatus(c, "abcdef.0123456789abcdef", "/api/v1/nodes", 403, `User "system:bootstrap:abcdef" cannot list resource "nodes"`)
		})
		expectStatus(t, c, "abcdef.0123456789abcdee", "/api/v1/nodes", 401, "Unauthorized")
		expectStatus(t, c, "expird.0123456789abcdef", "/api/v1/nodes", 401, "Unauthorized")
		_, errOut, err := tokenKubectl(t, c, "abcdef.0123456789abcdef", "get", "--raw", "/api/v1/nodes")
		if err == nil || !strings.Contains(errOut, `User "system:bootstrap:abcdef"`) {
			t.Fatalf("kubectl with a bootstrap token: err=%v stderr=%s", err, errOut)
		}
		// The token cleaner deletes the expired token's Secret, and leaves the valid one.
		eventually(t, 30*time.Second, func() error {
			_, err := c.Client.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-expird", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("expired bootstrap token still there (err %v)", err)
		})
		if _, err := c.Client.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-abcdef", metav1.GetOptions{}); err != nil {
			t.Fatalf("valid bootstrap token: %v", err)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		expectStatus(t, c, "", "/healthz", 200, "ok")
		expectStatus(t, c, "", "/version", 200, "gitVersion")
		expectStatus(t, c, "", "/api/v1/pods", 403, `User "system:anonymous" cannot list resource "pods" in API group "" at the cluster scope`)
	})
}

// TestAuthnAnonymousDisabled: with --anonymous-auth=false every request without credentials is a 401, health
// endpoints included, as upstream.
func TestAuthnAnonymousDisabled(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler", "--anonymous-auth=false"}})
	expectStatus(t, c, "", "/healthz", 401, "Unauthorized")
	expectStatus(t, c, "", "/api/v1/pods", 401, "Unauthorized")
	// Client certificates still work.
	mustContain(t, kubectl(t, c, "get", "namespaces", "-o", "name"), "namespace/default")
}

// TestAuthnConfigFile: --authentication-config (AuthenticationConfiguration v1) with a JWT issuer mapping the
// email claim without prefix, a required claim, and anonymous access limited to /livez; a second issuer maps
// with CEL (username, groups and extra expressions, a claim validation rule, a user validation rule).
func TestAuthnConfigFile(t *testing.T) {
	iss, cel := oidctest.Start(t), oidctest.Start(t)
	ca := strings.ReplaceAll(strings.TrimSpace(string(iss.CAPEM())), "\n", "\n      ")
	celCA := strings.ReplaceAll(strings.TrimSpace(string(cel.CAPEM())), "\n", "\n      ")
	file := filepath.Join(t.TempDir(), "authn.yaml")
	writeFile(t, file, `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: `+iss.URL+`
    audiences: [skiff, kubectl]
    audienceMatchPolicy: MatchAny
    certificateAuthority: |
      `+ca+`
  claimValidationRules:
  - claim: tenant
    requiredValue: blue
  claimMappings:
    username: {claim: email, prefix: ""}
    groups: {claim: groups, prefix: ""}
    uid: {claim: sub}
- issuer:
    url: `+cel.URL+`
    audiences: [skiff]
    certificateAuthority: |
      `+celCA+`
  claimValidationRules:
  - expression: "claims.?tenant.orValue('') == 'green'"
    message: tenant must be green
  claimMappings:
    username: {expression: "'cel:' + claims.preferred_username"}
    groups: {expression: "claims.roles.map(r, 'role:' + r)"}
    extra:
    - key: example.com/tenant
      valueExpression: claims.tenant
  userValidationRules:
  - expression: "!user.username.startsWith('cel:system')"
    message: reserved name
anonymous:
  enabled: true
  conditions:
  - path: /livez
`)
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler", "--authentication-config", file}})
	claims := map[string]any{"iss": iss.URL, "aud": "kubectl", "sub": "1234", "email": "alice@example.com", "email_verified": true,
		"tenant": "blue", "groups": []string{"devs"}, "exp": time.Now().Add(time.Hour).Unix()}
	alice := iss.Sign(t, claims)
	eventually(t, 30*time.Second, func() error {
		return checkStatus(c, alice, "/api/v1/namespaces/default/pods", 403, `User "alice@example.com" cannot list resource "pods"`)
	})
	claims["tenant"] = "red"
	expectStatus(t, c, iss.Sign(t, claims), "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	claims["tenant"], claims["email_verified"] = "blue", false
	expectStatus(t, c, iss.Sign(t, claims), "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	claims["email_verified"], claims["groups"] = true, []string{"system:masters"}
	out, errOut, err := tokenKubectl(t, c, iss.Sign(t, claims), "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/default") {
		t.Fatalf("kubectl as a system:masters member: err=%v\n%s%s", err, out, errOut)
	}
	// The CEL issuer: kubectl auth whoami shows the mapped name, groups and extra.
	bob := map[string]any{"iss": cel.URL, "aud": "skiff", "sub": "b1", "preferred_username": "bob", "tenant": "green",
		"roles": []string{"dev"}, "exp": time.Now().Add(time.Hour).Unix()}
	var review authenticationv1.SelfSubjectReview
	eventually(t, 30*time.Second, func() error {
		out, errOut, err := tokenKubectl(t, c, cel.Sign(t, bob), "auth", "whoami", "-o", "json")
		if err != nil {
			return fmt.Errorf("kubectl auth whoami: %v\n%s%s", err, out, errOut)
		}
		return json.Unmarshal([]byte(out), &review)
	})
	ui := review.Status.UserInfo
	if ui.Username != "cel:bob" || !slices.Contains(ui.Groups, "role:dev") || !slices.Contains(ui.Groups, "system:authenticated") ||
		strings.Join(ui.Extra["example.com/tenant"], ",") != "green" {
		t.Fatalf("whoami with the CEL issuer: %+v", ui)
	}
	bob["tenant"] = "red" // the claim validation rule refuses
	expectStatus(t, c, cel.Sign(t, bob), "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	bob["tenant"], bob["preferred_username"] = "green", "system:admin" // the user validation rule refuses
	expectStatus(t, c, cel.Sign(t, bob), "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	delete(bob, "preferred_username") // the username expression fails to run
	expectStatus(t, c, cel.Sign(t, bob), "/api/v1/namespaces/default/pods", 401, "Unauthorized")
	// Anonymous only where the conditions allow.
	expectStatus(t, c, "", "/livez", 200, "ok")
	expectStatus(t, c, "", "/healthz", 401, "Unauthorized")
	expectStatus(t, c, "", "/api/v1/pods", 401, "Unauthorized")
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkStatus GETs path with the bearer token ("" = no credentials) and wants that status and body text.
func checkStatus(c *framework.Cluster, token, path string, code int, contains string) error {
	req, err := http.NewRequest(http.MethodGet, c.Config.Host+path, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := framework.InsecureClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" {
		text = st.Message // unescaped, for messages with quotes
	}
	if resp.StatusCode != code || !strings.Contains(text, contains) {
		return fmt.Errorf("GET %s: %d %s, want %d with %q", path, resp.StatusCode, body, code, contains)
	}
	return nil
}

func expectStatus(t *testing.T, c *framework.Cluster, token, path string, code int, contains string) {
	t.Helper()
	if err := checkStatus(c, token, path, code, contains); err != nil {
		t.Fatal(err)
	}
}

// tokenKubectl runs kubectl with a kubeconfig that has the cluster's server and CA and only the bearer token.
func tokenKubectl(t *testing.T, c *framework.Cluster, token string, args ...string) (string, string, error) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, ai := range cfg.AuthInfos {
		ai.ClientCertificate, ai.ClientCertificateData, ai.ClientKey, ai.ClientKeyData = "", nil, "", nil
		ai.Token = token
		cfg.AuthInfos[name] = ai
	}
	path := filepath.Join(t.TempDir(), "token.kubeconfig")
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
