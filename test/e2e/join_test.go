package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestJoinNode: a node joins a control-plane-only server as `skiff agent` in its own process, as with kubeadm
// join: `skiff token create --print-join-command` on the server; the agent discovers the cluster
// (cluster-info, JWS, CA pin), gets its client certificate through a CSR as system:bootstrap:<id>
// (auto-approved) and its serving certificate through a kubelet-serving CSR as the node (skiff's rule); its
// Node is written by system:node:<name>, it becomes Ready, runs a pod, and `kubectl logs` reaches it through
// the CSR-issued serving certificate. A wrong token secret or CA pin makes `skiff agent` exit non-zero.
func TestJoinNode(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	policy := filepath.Join(t.TempDir(), "audit-policy.yaml")
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(policy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
  resources: [{group: "", resources: [nodes]}]
  verbs: [create]
- level: None
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Serving CSRs are approved by skiff's opt-in rule here (off by default: an administrator approves them).
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--audit-policy-file", policy, "--audit-log-path", auditLog, "--auto-approve-kubelet-serving"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	out, errOut, err := runSkiff(ctx, c, "token", "create", "--kubeconfig", c.Kubeconfig, "--print-join-command", "--description", "e2e join")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut)
	}
	fields := strings.Fields(out)
	if len(fields) != 8 || fields[0] != "skiff" || fields[1] != "agent" || fields[2] != "--server" || fields[4] != "--token" ||
		fields[6] != "--discovery-token-ca-cert-hash" || !strings.HasPrefix(fields[7], "sha256:") {
		t.Fatalf("join command: %q", out)
	}
	server, token, hash := fields[3], fields[5], fields[7]
	tokenID := strings.SplitN(token, ".", 2)[0]
	list, _, err := runSkiff(ctx, c, "token", "list", "--kubeconfig", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, list, "TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS", token, "authentication,signing", "e2e join",
		"system:bootstrappers:kubeadm:default-node-token")

	// Refused joins: the same token id with another secret (the cluster-info signature does not verify), and
	// the right token with another CA pin.
	wrongSecret := tokenID + "." + strings.Repeat("x", 16)
	code, logs := framework.RunAgentExpectingFailure(t, c, time.Minute, "--server", server, "--token", wrongSecret,
		"--discovery-token-ca-cert-hash", hash, "--discovery-timeout", "30s")
	if code == 0 || !strings.Contains(logs, "failed to verify JWS signature") {
		t.Fatalf("wrong token: exit %d\n%s", code, logs)
	}
	code, logs = framework.RunAgentExpectingFailure(t, c, time.Minute, "--server", server, "--token", token,
		"--discovery-token-ca-cert-hash", "sha256:"+strings.Repeat("0", 64), "--discovery-timeout", "30s")
	if code == 0 || !strings.Contains(logs, "does not match --discovery-token-ca-cert-hash") {
		t.Fatalf("wrong CA hash: exit %d\n%s", code, logs)
	}

	a := framework.StartAgent(t, c, "join-1", []string{filepath.Join(imgDir, "busybox.tar")},
		"--server", server, "--token", token, "--discovery-token-ca-cert-hash", hash,
		// The disk this machine shares with other tests may cross nodefs thresholds; pressure is not this test's.
		"--eviction-hard=memory.available<100Mi")
	for _, f := range []string{"kubelet.kubeconfig", "pki/kubelet-client-current.pem", "pki/ca.crt"} {
		if _, err := os.Stat(filepath.Join(a.DataDir, "agent", f)); err != nil {
			t.Errorf("agent file: %v", err)
		}
	}

	eventually(t, 60*time.Second, func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, "join-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node not ready: %+v", n.Status.Conditions)
	})
	audit, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	created := false
	for _, l := range strings.Split(string(audit), "\n") {
		created = created || (strings.Contains(l, `"verb":"create"`) && strings.Contains(l, `"resource":"nodes"`) &&
			strings.Contains(l, `"username":"system:node:join-1"`) && strings.Contains(l, `"code":201`))
	}
	if !created {
		t.Fatalf("no Node create by system:node:join-1 in the audit log:\n%s", audit)
	}

	// The client certificate came from a CSR of the bootstrap token, the serving one from the node itself.
	csrs, err := c.Client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range csrs.Items {
		approved := false
		for _, cond := range r.Status.Conditions {
			approved = approved || (cond.Type == certificatesv1.CertificateApproved && cond.Status == corev1.ConditionTrue)
		}
		if !approved || len(r.Status.Certificate) == 0 {
			t.Errorf("csr %s (%s by %s) not approved and issued: %+v", r.Name, r.Spec.SignerName, r.Spec.Username, r.Status.Conditions)
			continue
		}
		seen[r.Spec.SignerName+" "+r.Spec.Username] = true
	}
	for _, want := range []string{certificatesv1.KubeAPIServerClientKubeletSignerName + " system:bootstrap:" + tokenID,
		certificatesv1.KubeletServingSignerName + " system:node:join-1"} {
		if !seen[want] {
			t.Errorf("no approved and issued CSR %q among %v", want, seen)
		}
	}

	kubectl(t, c, "run", "joined", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never",
		"--", "sh", "-c", "echo hello-from-join-1; sleep 3600")
	eventually(t, 60*time.Second, func() error {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, "joined", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName != "join-1" || p.Status.Phase != corev1.PodRunning {
			n, _, _ := c.Kubectl(ctx, "", "describe", "node", "join-1")
			return fmt.Errorf("pod on %q phase %s %+v\n%s", p.Spec.NodeName, p.Status.Phase, p.Status.Conditions, n)
		}
		return nil
	})
	logsWork := func() {
		eventually(t, 30*time.Second, func() error {
			out, errOut, err := c.Kubectl(ctx, "", "logs", "joined")
			if err != nil || !strings.Contains(out, "hello-from-join-1") {
				return fmt.Errorf("logs: %v %s %s", err, out, errOut)
			}
			return nil
		})
	}
	logsWork()

	// A restart needs no token (it is even deleted): the node's credentials on disk are still valid, and no new
	// CSR is made.
	if out, errOut, err := runSkiff(ctx, c, "token", "delete", "--kubeconfig", c.Kubeconfig, tokenID); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("token delete: %v %s %s", err, out, errOut)
	}
	if list, _, _ := runSkiff(ctx, c, "token", "list", "--kubeconfig", c.Kubeconfig); strings.Contains(list, token) {
		t.Fatalf("deleted token still listed:\n%s", list)
	}
	a.Restart(t, "--eviction-hard=memory.available<100Mi")
	if strings.Contains(a.Logs(), "requested a node certificate") || !strings.Contains(a.Logs(), "using the node's existing credentials") {
		t.Fatalf("restarted agent did not reuse its credentials:\n%s", a.Logs())
	}
	logsWork()
}

// runSkiff runs a skiff subcommand.
func runSkiff(ctx context.Context, c *framework.Cluster, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}
