package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"skiff/test/e2e/framework"
)

// TestComponentIdentities: the in-process components reach the API as their own users, never as system:masters
// (only the API server's own loopback, system:masters user system:apiserver, is), each controller as its
// kube-system ServiceAccount; none of them is refused; and their default roles hold what they need and no more.
func TestComponentIdentities(t *testing.T) {
	startAudited := func(t *testing.T, opts framework.Options) (*framework.Cluster, string) {
		dir := t.TempDir()
		policy := filepath.Join(dir, "policy.yaml")
		if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, "audit.log")
		opts.ExtraArgs = append(opts.ExtraArgs, "--audit-policy-file", policy, "--audit-log-path", logPath)
		return framework.Start(t, opts), logPath
	}

	t.Run("ControlPlane", func(t *testing.T) {
		c, logPath := startAudited(t, framework.Options{})
		// A Deployment puts the deployment and replicaset controllers and the scheduler (no node fits) to work.
		kubectl(t, c, "create", "deployment", "who", "--image=registry.k8s.io/pause:3.10")
		findAudit(t, logPath, "pod created by the replicaset controller", func(ev auditEvent) bool {
			return ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Resource == "pods" &&
				ev.User.Username == "system:serviceaccount:kube-system:replicaset-controller"
		})
		findAudit(t, logPath, "a scheduler event", func(ev auditEvent) bool {
			return ev.ObjectRef != nil && ev.ObjectRef.Resource == "events" && ev.User.Username == "system:kube-scheduler"
		})
		checkIdentities(t, logPath, "skiff-scheduler", "skiff-controller-manager", "skiff-controller-manager/deployment-controller",
			"skiff-controller-manager/replicaset-controller")
		checkRoles(t, c)
	})

	t.Run("NodeAgent", func(t *testing.T) {
		_, logPath := startAudited(t, framework.Options{Agent: true})
		for _, user := range []string{"system:kube-proxy", "system:skiff:network-policy", "system:skiff:overlay"} {
			findAudit(t, logPath, "a request by "+user, func(ev auditEvent) bool { return ev.User.Username == user })
		}
		checkIdentities(t, logPath, "skiff-proxy", "skiff-network-policy", "skiff-overlay")
	})
}

// checkIdentities reads the audit log: every component acted as its own user and was never refused, and only
// the API server's loopback (and the test's admin) acted as system:masters; the required user agents appear.
func checkIdentities(t *testing.T, logPath string, required ...string) {
	t.Helper()
	want := func(agent string) (string, bool) {
		switch {
		case agent == "skiff-scheduler":
			return "system:kube-scheduler", true
		case agent == "skiff-controller-manager":
			return "system:kube-controller-manager", true
		case strings.HasPrefix(agent, "skiff-controller-manager/"):
			return "system:serviceaccount:kube-system:" + strings.TrimPrefix(agent, "skiff-controller-manager/"), true
		case agent == "skiff-namespace-controller":
			return "system:serviceaccount:kube-system:namespace-controller", true
		case agent == "skiff-dns":
			return "system:serviceaccount:kube-system:kube-dns", true
		case agent == "skiff-proxy":
			return "system:kube-proxy", true
		case agent == "skiff-network-policy", agent == "skiff-overlay", agent == "skiff-dns-endpoints":
			return "system:skiff:" + strings.TrimPrefix(agent, "skiff-"), true
		}
		return "", false
	}
	seen := map[string]bool{}
	for _, ev := range readAudit(t, logPath) {
		if user, ok := want(ev.UserAgent); ok {
			seen[ev.UserAgent] = true
			if ev.User.Username != user || slices.Contains(ev.User.Groups, "system:masters") {
				t.Errorf("%s acted as %s %v, want %s: %s", ev.UserAgent, ev.User.Username, ev.User.Groups, user, ev.line)
			}
		} else if slices.Contains(ev.User.Groups, "system:masters") && ev.User.Username != "system:apiserver" && ev.User.Username != "admin" {
			t.Errorf("%s acted as system:masters: %s", ev.UserAgent, ev.line)
		}
		if ev.Annotations["authorization.k8s.io/decision"] == "forbid" && strings.HasPrefix(ev.UserAgent, "skiff-") {
			t.Errorf("component refused: %s", ev.line)
		}
	}
	for _, agent := range required {
		if !seen[agent] {
			t.Errorf("no request from %s in the audit log", agent)
		}
	}
}

// checkRoles asks the API (kubectl auth can-i --as) whether the components' default roles hold what they need
// and refuse what they do not.
func checkRoles(t *testing.T, c *framework.Cluster) {
	t.Helper()
	for _, tc := range []struct {
		as, verb, what string
		ns             string
		allowed        bool
	}{
		{"system:serviceaccount:kube-system:replicaset-controller", "create", "pods", "default", true},
		{"system:serviceaccount:kube-system:replicaset-controller", "get", "secrets", "default", false},
		{"system:serviceaccount:kube-system:generic-garbage-collector", "delete", "configmaps", "default", true},
		{"system:serviceaccount:kube-system:token-cleaner", "delete", "secrets", "kube-system", true},
		{"system:serviceaccount:kube-system:token-cleaner", "delete", "secrets", "default", false},
		{"system:serviceaccount:kube-system:servicelb-controller", "update", "services --subresource=status", "default", true},
		{"system:kube-controller-manager", "delete", "pods", "default", false},
		{"system:kube-scheduler", "create", "pods --subresource=binding", "default", true},
		{"system:kube-scheduler", "create", "pods", "default", false},
		{"system:kube-proxy", "list", "endpointslices.discovery.k8s.io", "default", true},
		{"system:kube-proxy", "get", "secrets", "default", false},
		{"system:serviceaccount:kube-system:kube-dns", "watch", "endpointslices.discovery.k8s.io", "default", true},
		{"system:skiff:network-policy", "list", "networkpolicies.networking.k8s.io", "default", true},
		{"system:skiff:network-policy", "create", "pods", "default", false},
		{"system:skiff:overlay", "patch", "nodes", "", true},
		{"system:skiff:overlay", "delete", "nodes", "", false},
		{"system:skiff:dns-endpoints", "update", "endpointslices.discovery.k8s.io", "kube-system", true},
		{"system:skiff:dns-endpoints", "update", "endpointslices.discovery.k8s.io", "default", false},
	} {
		args := append([]string{"auth", "can-i", tc.verb}, strings.Fields(tc.what)...)
		args = append(args, "--as", tc.as)
		if tc.ns != "" {
			args = append(args, "-n", tc.ns)
		}
		out, _, _ := c.Kubectl(t.Context(), "", args...)
		if got := strings.TrimSpace(out) == "yes"; got != tc.allowed {
			t.Errorf("%s: %q, want allowed=%v", strings.Join(args, " "), strings.TrimSpace(out), tc.allowed)
		}
	}
}
