package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// webhookServer answers AdmissionReviews on loopback over TLS (its own self-signed CA):
// /deny refuses pods labelled deny=true, /mutate adds the label mutated=by-webhook, /slow answers after 30 s.
func webhookServer(t *testing.T) (*httptest.Server, []byte, *atomic.Int32) {
	var mutateCalls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rev admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&rev); err != nil || rev.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		var pod corev1.Pod
		_ = json.Unmarshal(rev.Request.Object.Raw, &pod)
		resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}
		switch r.URL.Path {
		case "/deny":
			if pod.Labels["deny"] == "true" {
				resp.Allowed = false
				resp.Result = &metav1.Status{Message: fmt.Sprintf("pod %s is labelled deny=true", pod.Name)}
			} else {
				resp.Warnings = []string{"deny.example.com looked at pod " + pod.Name}
			}
		case "/mutate":
			mutateCalls.Add(1)
			pt := admissionv1.PatchTypeJSONPatch
			resp.PatchType = &pt
			resp.Patch = []byte(`[{"op":"add","path":"/metadata/labels/mutated","value":"by-webhook"}]`)
			if pod.Labels == nil {
				resp.Patch = []byte(`[{"op":"add","path":"/metadata/labels","value":{"mutated":"by-webhook"}}]`)
			}
		case "/deny-all":
			resp.Allowed = false
			resp.Result = &metav1.Status{Message: fmt.Sprintf("no %s %s/%s (%s)", rev.Request.Operation,
				rev.Request.Resource.Resource, rev.Request.SubResource, rev.Request.Kind.Kind)}
		case "/slow":
			select {
			case <-time.After(30 * time.Second):
			case <-r.Context().Done():
				return
			}
		}
		rev.Response = resp
		rev.Request = nil
		_ = json.NewEncoder(w).Encode(rev)
	}))
	t.Cleanup(srv.Close)
	return srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), &mutateCalls
}

func webhookPodYAML(name, ns string, labels map[string]string) string {
	var l strings.Builder
	for k, v := range labels {
		fmt.Fprintf(&l, "\n    %s: %q", k, v)
	}
	lab := ""
	if len(labels) > 0 {
		lab = "\n  labels:" + l.String()
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s%s
spec:
  containers:
  - name: c
    image: busybox
`, name, ns, lab)
}

func TestAdmissionWebhooks(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	srv, ca, mutateCalls := webhookServer(t)
	for ns, labels := range map[string]map[string]string{"wh-on": {"webhooks": "on"}, "wh-off": nil} {
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	none := admissionregv1.SideEffectClassNone
	fail, ignore := admissionregv1.Fail, admissionregv1.Ignore
	url := func(path string) *string { s := srv.URL + path; return &s }
	podRules := []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.Create},
		Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}
	onlyOn := &metav1.LabelSelector{MatchLabels: map[string]string{"webhooks": "on"}}

	// Validating: pods labelled deny=true are refused in namespaces labelled webhooks=on.
	_, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "deny"},
		Webhooks: []admissionregv1.ValidatingWebhook{{Name: "deny.example.com", Rules: podRules, NamespaceSelector: onlyOn,
			ClientConfig: admissionregv1.WebhookClientConfig{URL: url("/deny"), CABundle: ca}, SideEffects: &none,
			FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	denied := webhookPodYAML("bad", "wh-on", map[string]string{"deny": "true"})
	eventually(t, 30*time.Second, func() error {
		if _, _, ok := c.Kubectl(ctx, denied, "create", "--dry-run=server", "-f", "-"); ok == nil {
			return fmt.Errorf("webhook not active yet")
		}
		return nil
	})
	msg := kubectlInFails(t, c, denied, "create", "-f", "-")
	mustContain(t, msg, `admission webhook "deny.example.com" denied the request: pod bad is labelled deny=true`)
	// namespaceSelector: the same pod elsewhere is not the webhook's business.
	kubectlIn(t, c, webhookPodYAML("bad", "wh-off", map[string]string{"deny": "true"}), "create", "-f", "-")
	// Warnings from the webhook reach kubectl.
	_, stderr, err := c.Kubectl(ctx, webhookPodYAML("good", "wh-on", map[string]string{"app": "x"}), "create", "-f", "-")
	if err != nil {
		t.Fatalf("good pod: %v: %s", err, stderr)
	}
	mustContain(t, stderr, "Warning: deny.example.com looked at pod good")

	// Mutating: pods labelled mutate=yes (objectSelector) get a label through a JSONPatch.
	_, err = c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "mutate"},
		Webhooks: []admissionregv1.MutatingWebhook{{Name: "mutate.example.com", Rules: podRules,
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"mutate": "yes"}},
			// CEL matchConditions: pods labelled skip are left alone.
			MatchConditions: []admissionregv1.MatchCondition{{Name: "not-skipped", Expression: `!("skip" in object.metadata.labels)`}},
			ClientConfig:    admissionregv1.WebhookClientConfig{URL: url("/mutate"), CABundle: ca}, SideEffects: &none,
			FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		out, stderr, err := c.Kubectl(ctx, webhookPodYAML("probe", "wh-off", map[string]string{"mutate": "yes"}), "create", "--dry-run=server", "-f", "-", "-o", "jsonpath={.metadata.labels.mutated}")
		if err != nil || out != "by-webhook" {
			return fmt.Errorf("not mutated yet: %q %v %s", out, err, stderr)
		}
		return nil
	})
	kubectlIn(t, c, webhookPodYAML("mutated", "wh-off", map[string]string{"mutate": "yes"}), "create", "-f", "-")
	kubectlIn(t, c, webhookPodYAML("plain", "wh-off", map[string]string{"mutate": "no"}), "create", "-f", "-")
	if p, err := c.Client.CoreV1().Pods("wh-off").Get(ctx, "mutated", metav1.GetOptions{}); err != nil || p.Labels["mutated"] != "by-webhook" || p.Labels["mutate"] != "yes" {
		t.Fatalf("stored pod labels: %v %v", p.Labels, err)
	}
	if p, err := c.Client.CoreV1().Pods("wh-off").Get(ctx, "plain", metav1.GetOptions{}); err != nil || p.Labels["mutated"] != "" {
		t.Fatalf("objectSelector: the plain pod was mutated: %v %v", p.Labels, err)
	}
	kubectlIn(t, c, webhookPodYAML("skipped", "wh-off", map[string]string{"mutate": "yes", "skip": "1"}), "create", "-f", "-")
	if p, err := c.Client.CoreV1().Pods("wh-off").Get(ctx, "skipped", metav1.GetOptions{}); err != nil || p.Labels["mutated"] != "" {
		t.Fatalf("matchConditions: the skipped pod was mutated: %v %v", p.Labels, err)
	}
	if mutateCalls.Load() == 0 {
		t.Error("the mutating webhook was never called")
	}

	// Mutating webhooks see deletes too (as upstream: both admission phases run on DELETE), with the old
	// object's labels for the objectSelector.
	delRules := []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.Delete},
		Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}}
	_, err = c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "guard-delete"},
		Webhooks: []admissionregv1.MutatingWebhook{{Name: "guard-delete.example.com", Rules: delRules,
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"protected": "yes"}},
			ClientConfig:   admissionregv1.WebhookClientConfig{URL: url("/deny-all"), CABundle: ca}, SideEffects: &none,
			FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, c, "create", "configmap", "guarded", "-n", "wh-off")
	kubectl(t, c, "label", "configmap", "guarded", "-n", "wh-off", "protected=yes")
	var delOut string
	eventually(t, 30*time.Second, func() error {
		var err error
		if _, delOut, err = c.Kubectl(ctx, "", "delete", "configmap", "guarded", "-n", "wh-off", "--dry-run=server"); err == nil {
			return fmt.Errorf("delete webhook not active yet")
		}
		return nil
	})
	mustContain(t, delOut, `admission webhook "guard-delete.example.com" denied the request: no DELETE configmaps/ (ConfigMap)`)
	if err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, "guard-delete", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// failurePolicy: a webhook whose server is down refuses with Fail and lets the write through with Ignore.
	down := httptest.NewTLSServer(http.NotFoundHandler())
	downURL := down.URL + "/"
	down.Close()
	cmRules := []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.OperationAll},
		Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}}
	vwcs := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	_, err = vwcs.Create(ctx, &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "down"},
		Webhooks: []admissionregv1.ValidatingWebhook{{Name: "down.example.com", Rules: cmRules, NamespaceSelector: onlyOn,
			ClientConfig: admissionregv1.WebhookClientConfig{URL: &downURL, CABundle: ca}, SideEffects: &none,
			FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out string
	eventually(t, 30*time.Second, func() error {
		var ok error
		_, out, ok = c.Kubectl(ctx, "", "create", "configmap", "cm1", "-n", "wh-on", "--dry-run=server")
		if ok == nil {
			return fmt.Errorf("webhook not active yet")
		}
		return nil
	})
	mustContain(t, out, `Internal error occurred: failed calling webhook "down.example.com": failed to call webhook: Post "`+downURL+`?timeout=10s"`, "connection refused")
	kubectl(t, c, "create", "configmap", "cm1", "-n", "wh-off") // outside the namespaceSelector
	cfg, err := vwcs.Get(ctx, "down", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Webhooks[0].FailurePolicy = &ignore
	if _, err := vwcs.Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		_, stderr, err := c.Kubectl(ctx, "", "create", "configmap", "cm2", "-n", "wh-on")
		if err != nil {
			return fmt.Errorf("still refused: %s", stderr)
		}
		return nil
	})

	// timeoutSeconds: a webhook slower than its 1 s timeout, with Fail, refuses the write quickly.
	one := int32(1)
	secretRules := []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.Create},
		Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"}}}}
	_, err = vwcs.Create(ctx, &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "slow"},
		Webhooks: []admissionregv1.ValidatingWebhook{{Name: "slow.example.com", Rules: secretRules, NamespaceSelector: onlyOn,
			ClientConfig: admissionregv1.WebhookClientConfig{URL: url("/slow"), CABundle: ca}, SideEffects: &none,
			TimeoutSeconds: &one, FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		start := time.Now()
		var ok error
		_, out, ok = c.Kubectl(ctx, "", "create", "secret", "generic", "s1", "-n", "wh-on")
		if ok == nil {
			_ = c.Client.CoreV1().Secrets("wh-on").Delete(ctx, "s1", metav1.DeleteOptions{})
			return fmt.Errorf("webhook not active yet")
		}
		// Generous bound: the webhook itself takes 30 s (and the default timeout is 10 s); 1 s must cut it short.
		if d := time.Since(start); d > 9*time.Second {
			t.Errorf("refusal took %v; timeoutSeconds 1 not honoured", d)
		}
		return nil
	})
	mustContain(t, out, `failed calling webhook "slow.example.com"`, "?timeout=1s", "context deadline exceeded")

	// CONNECT: exec is admitted with the PodExecOptions as the object.
	_, err = vwcs.Create(ctx, &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "noexec"},
		Webhooks: []admissionregv1.ValidatingWebhook{{Name: "noexec.example.com", NamespaceSelector: onlyOn,
			Rules: []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.Connect},
				Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/exec"}}}},
			ClientConfig: admissionregv1.WebhookClientConfig{URL: url("/deny-all"), CABundle: ca}, SideEffects: &none,
			FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		_, out, _ = c.Kubectl(ctx, "", "exec", "-n", "wh-on", "good", "--", "true")
		if !strings.Contains(out, "noexec.example.com") {
			return fmt.Errorf("webhook not active yet: %s", out)
		}
		return nil
	})
	mustContain(t, out, `admission webhook "noexec.example.com" denied the request: no CONNECT pods/exec (PodExecOptions)`)

	// Webhook configurations are exempt from webhooks, and deleting them turns the webhooks off.
	for _, n := range []string{"deny", "down", "slow", "noexec"} {
		if err := vwcs.Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, func() error {
		if _, stderr, err := c.Kubectl(ctx, denied, "create", "--dry-run=server", "-f", "-"); err != nil {
			return fmt.Errorf("still denied: %s", stderr)
		}
		return nil
	})
}

// TestFailingWebhookDoesNotBlockRestart: a webhook with failurePolicy Fail whose backend is down (as an
// in-cluster backend is while the server starts) covering every write does not stop a restart: the server
// writes nothing at start that already exists, becomes ready, and the webhook still guards writes.
func TestFailingWebhookDoesNotBlockRestart(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	none := admissionregv1.SideEffectClassNone
	fail := admissionregv1.Fail
	dead := "https://127.0.0.1:1/dead"
	all := []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.OperationAll},
		Rule: admissionregv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*/*"}}}}
	_, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "everything"},
		Webhooks: []admissionregv1.ValidatingWebhook{{Name: "everything.example.com", Rules: all,
			ClientConfig: admissionregv1.WebhookClientConfig{URL: &dead}, SideEffects: &none,
			FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if _, _, err := c.Kubectl(ctx, "", "create", "configmap", "probe", "--dry-run=server"); err == nil {
			return fmt.Errorf("webhook not active yet")
		}
		return nil
	})
	c.Stop()
	c.Restart(t) // waits for /readyz, which passes only once the start-up writes are done
	out := kubectlFails(t, c, "create", "configmap", "after-restart")
	mustContain(t, out, `failed calling webhook "everything.example.com"`)
	// The configuration itself is never subject to webhooks, so it can be repaired.
	kubectl(t, c, "delete", "validatingwebhookconfiguration", "everything")
	eventually(t, 30*time.Second, func() error {
		_, stderr, err := c.Kubectl(ctx, "", "create", "configmap", "after-repair")
		if err != nil {
			return fmt.Errorf("%v: %s", err, stderr)
		}
		return nil
	})
}
