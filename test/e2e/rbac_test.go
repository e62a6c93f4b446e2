package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"skiff/internal/auth/rbac"
	"skiff/internal/pki"
	"skiff/test/e2e/framework"
)

// userKubeconfig writes a kubeconfig for user (client certificate CN=user, O=groups) signed by the cluster CA.
func userKubeconfig(t *testing.T, c *framework.Cluster, user string, groups ...string) string {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(filepath.Join(c.DataDir, "tls"), "ca")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := ca.WriteKubeconfig(path, c.Config.Host, user, groups); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubectlRun runs kubectl and returns stdout, stderr and whether it succeeded.
func kubectlRun(t *testing.T, c *framework.Cluster, args ...string) (string, string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, "", args...)
	return out, errOut, err == nil
}

// kubectlErr runs kubectl; the error carries stderr.
func kubectlErr(c *framework.Cluster, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, "", args...)
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errOut)
	}
	return out, nil
}

// kubectlInFails runs kubectl with stdin, expecting failure, and returns stderr.
func kubectlInFails(t *testing.T, c *framework.Cluster, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, stdin, args...)
	if err == nil {
		t.Fatalf("kubectl %s succeeded, want failure\nstdout: %s", strings.Join(args, " "), out)
	}
	return errOut
}

func mustYAML(t *testing.T, obj any) string {
	t.Helper()
	data, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// tableLines normalizes a kubectl table: each row's cells joined by one space.
func tableLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

// TestRBAC is the RBAC matrix: view in one namespace, edit, escalation prevention, kubectl auth can-i (with --list
// and --as) and whoami, impersonation, aggregation, and default roles coming back after a restart.
func TestRBAC(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	alice := userKubeconfig(t, c, "alice")
	carol := userKubeconfig(t, c, "carol", "devs")
	as := func(kc string, args ...string) []string { return append([]string{"--kubeconfig", kc}, args...) }

	kubectl(t, c, "create", "namespace", "a")
	kubectl(t, c, "create", "namespace", "b")
	kubectl(t, c, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "a")
	// alice may also write roles and bindings in a, so escalation prevention is what stops her.
	kubectl(t, c, "create", "role", "rbac-writer", "--verb=create,get,update", "--resource=roles,rolebindings", "-n", "a")
	kubectl(t, c, "create", "rolebinding", "alice-rbac-writer", "--role=rbac-writer", "--user=alice", "-n", "a")
	kubectl(t, c, "create", "rolebinding", "devs-edit", "--clusterrole=edit", "--group=devs", "-n", "a")

	t.Run("view", func(t *testing.T) {
		// Bindings reach the authorizer through its informers: wait for the first one.
		eventually(t, 20*time.Second, func() error {
			_, err := kubectlErr(c, as(alice, "get", "pods", "-n", "a")...)
			return err
		})
		kubectl(t, c, as(alice, "get", "pod", "missing", "-n", "a", "--ignore-not-found")...)
		mustContain(t, kubectlFails(t, c, as(alice, "get", "pods", "-n", "b")...),
			`Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "b"`)
		mustContain(t, kubectlFails(t, c, as(alice, "get", "pods", "-A")...),
			`User "alice" cannot list resource "pods" in API group "" at the cluster scope`)
		for _, ns := range []string{"a", "b"} {
			mustContain(t, kubectlFails(t, c, as(alice, "run", "p", "--image=busybox", "-n", ns)...),
				`User "alice" cannot create resource "pods" in API group "" in the namespace "`+ns+`"`)
		}
		mustContain(t, kubectlFails(t, c, as(alice, "create", "namespace", "c")...), `cannot create resource "namespaces"`)
		mustContain(t, kubectlFails(t, c, as(alice, "get", "secrets", "-n", "a")...), `cannot list resource "secrets"`)
	})

	t.Run("edit", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			_, err := kubectlErr(c, as(carol, "run", "p", "--image=busybox", "-n", "a")...)
			return err
		})
		kubectl(t, c, as(carol, "delete", "pod", "p", "-n", "a", "--wait=false")...)
		kubectl(t, c, as(carol, "create", "secret", "generic", "s", "--from-literal=k=v", "-n", "a")...)
		mustContain(t, kubectlFails(t, c, as(carol, "get", "roles", "-n", "a")...),
			`roles.rbac.authorization.k8s.io is forbidden: User "carol" cannot list resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "a"`)
		mustContain(t, kubectlFails(t, c, as(carol, "run", "p", "--image=busybox", "-n", "b")...), `cannot create resource "pods"`)
	})

	t.Run("escalation", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			_, err := kubectlErr(c, as(alice, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", "a")...)
			return err
		})
		mustContain(t, kubectlFails(t, c, as(alice, "create", "role", "secret-deleter", "--verb=delete", "--resource=secrets", "-n", "a")...),
			`roles.rbac.authorization.k8s.io "secret-deleter" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`,
			`{APIGroups:[""], Resources:["secrets"], Verbs:["delete"]}`)
		mustContain(t, kubectlFails(t, c, as(alice, "create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice", "-n", "a")...),
			`rolebindings.rbac.authorization.k8s.io "alice-admin" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`)
		// What she holds she may hand on.
		kubectl(t, c, as(alice, "create", "rolebinding", "dave-view", "--clusterrole=view", "--user=dave", "-n", "a")...)
		// Widening a role is escalation too.
		role, err := c.Client.RbacV1().Roles("a").Get(ctx, "pod-reader", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		role.APIVersion, role.Kind = "rbac.authorization.k8s.io/v1", "Role"
		role.Rules = append(role.Rules, rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}})
		mustContain(t, kubectlInFails(t, c, mustYAML(t, role), as(alice, "replace", "-f", "-")...), "is attempting to grant RBAC permissions not currently held")
		// The escalate verb lifts the check.
		kubectl(t, c, "create", "role", "escalator", "--verb=escalate", "--resource=roles", "-n", "a")
		kubectl(t, c, "create", "rolebinding", "alice-escalator", "--role=escalator", "--user=alice", "-n", "a")
		eventually(t, 20*time.Second, func() error {
			_, err := kubectlErr(c, as(alice, "create", "role", "secret-deleter", "--verb=delete", "--resource=secrets", "-n", "a")...)
			return err
		})
	})

	t.Run("can-i", func(t *testing.T) {
		out := kubectl(t, c, as(alice, "auth", "can-i", "--list", "-n", "a")...)
		lines := tableLines(out)
		// Rules from several bindings come in no set order: compare verbs as sets.
		for i, l := range lines {
			if open := strings.LastIndex(l, "["); open >= 0 && strings.HasSuffix(l, "]") {
				verbs := strings.Fields(l[open+1 : len(l)-1])
				slices.Sort(verbs)
				lines[i] = l[:open+1] + strings.Join(verbs, " ") + "]"
			}
		}
		for _, want := range []string{
			"Resources Non-Resource URLs Resource Names Verbs",
			"selfsubjectaccessreviews.authorization.k8s.io [] [] [create]",
			"selfsubjectrulesreviews.authorization.k8s.io [] [] [create]",
			"selfsubjectreviews.authentication.k8s.io [] [] [create]",
			"pods [] [] [get list watch]",
			"namespaces [] [] [get list watch]",
			"deployments.apps [] [] [get list watch]",
			// rbac-writer and, from the escalation test, escalator.
			"roles.rbac.authorization.k8s.io [] [] [create escalate get update]",
			"rolebindings.rbac.authorization.k8s.io [] [] [create get update]",
			"[/api/*] [] [get]",
			"[/version] [] [get]",
		} {
			if !slices.Contains(lines, want) {
				t.Errorf("can-i --list lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "*.*") {
			t.Errorf("alice is no admin:\n%s", out)
		}
		// In b she only has the cluster-wide basics.
		for _, l := range tableLines(kubectl(t, c, as(alice, "auth", "can-i", "--list", "-n", "b")...)) {
			if strings.HasPrefix(l, "pods ") {
				t.Errorf("alice can list pods in b: %s", l)
			}
		}
		yes := func(args ...string) string {
			out, _, _ := kubectlRun(t, c, args...) // can-i exits 1 on "no"
			return strings.TrimSpace(out)
		}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{as(alice, "auth", "can-i", "list", "pods", "-n", "a"), "yes"},
			{as(alice, "auth", "can-i", "list", "pods", "-n", "b"), "no"},
			{as(alice, "auth", "can-i", "create", "pods", "-n", "a"), "no"},
			{[]string{"auth", "can-i", "create", "pods", "--as", "alice", "-n", "a"}, "no"},
			{[]string{"auth", "can-i", "get", "pods", "--as", "alice", "-n", "a"}, "yes"},
			{[]string{"auth", "can-i", "create", "pods", "--as", "carol", "--as-group", "devs", "-n", "a"}, "yes"},
			{[]string{"auth", "can-i", "*", "*"}, "yes"},
			{[]string{"auth", "can-i", "get", "/healthz", "--as", "alice"}, "yes"},
		} {
			if got := yes(tc.args...); got != tc.want {
				t.Errorf("kubectl %s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
			}
		}
	})

	t.Run("access reviews", func(t *testing.T) {
		sar, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "a", Verb: "list", Resource: "pods"}}}, metav1.CreateOptions{})
		if err != nil || !sar.Status.Allowed || !strings.HasPrefix(sar.Status.Reason, `RBAC: allowed by RoleBinding "alice-view/a" of ClusterRole "view" to User "alice"`) {
			t.Fatalf("SubjectAccessReview: %v %+v", err, sar)
		}
		lsar, err := c.Client.AuthorizationV1().LocalSubjectAccessReviews("b").Create(ctx, &authorizationv1.LocalSubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: "list", Resource: "pods"}}}, metav1.CreateOptions{})
		if err != nil || lsar.Status.Allowed || lsar.Spec.ResourceAttributes.Namespace != "b" {
			t.Fatalf("LocalSubjectAccessReview: %v %+v", err, lsar)
		}
		_, err = c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get"}}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "at least one of user or group must be specified") {
			t.Fatalf("SubjectAccessReview without a subject: %v", err)
		}
		// A plain user may not ask about others.
		mustContain(t, kubectlInFails(t, c, `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x","nonResourceAttributes":{"path":"/","verb":"get"}}}`,
			as(alice, "create", "--validate=false", "-f", "-")...), `cannot create resource "subjectaccessreviews"`)
	})

	t.Run("whoami and impersonation", func(t *testing.T) {
		lines := tableLines(kubectl(t, c, as(alice, "auth", "whoami")...))
		if !slices.Contains(lines, "Username alice") || !slices.Contains(lines, "Groups [system:authenticated]") {
			t.Fatalf("whoami: %v", lines)
		}
		lines = tableLines(kubectl(t, c, "auth", "whoami", "--as", "system:serviceaccount:a:builder"))
		if !slices.Contains(lines, "Groups [system:serviceaccounts system:serviceaccounts:a system:authenticated]") {
			t.Fatalf("whoami --as a service account: %v", lines)
		}
		mustContain(t, kubectlFails(t, c, "get", "pods", "-n", "b", "--as", "alice"),
			`pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "b"`)
		kubectl(t, c, "get", "pods", "-n", "a", "--as", "alice")
		mustContain(t, kubectlFails(t, c, as(alice, "get", "pods", "-n", "a", "--as", "carol")...),
			`users "carol" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`)
		// edit lets carol act as the namespace's service accounts, as upstream.
		kubectl(t, c, as(carol, "auth", "whoami", "--as", "system:serviceaccount:a:default")...)
		mustContain(t, kubectlFails(t, c, as(carol, "get", "pods", "-n", "b", "--as", "system:serviceaccount:b:default")...),
			`serviceaccounts "default" is forbidden: User "carol" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "b"`)
	})

	t.Run("aggregation", func(t *testing.T) {
		kubectlIn(t, c, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widget-viewer
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: ["example.com"]
  resources: ["widgets"]
  verbs: ["get"]
`, "apply", "-f", "-")
		for _, role := range []string{"view", "edit", "admin"} {
			eventually(t, 20*time.Second, func() error {
				r, err := c.Client.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(r.Rules, func(p rbacv1.PolicyRule) bool { return slices.Contains(p.Resources, "widgets") }) {
					return errorf("%s lacks the widgets rule", role)
				}
				return nil
			})
		}
	})

	t.Run("defaults restored on restart", func(t *testing.T) {
		for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
			"system:public-info-viewer", "system:kube-scheduler", "system:kube-controller-manager", "system:node",
			"system:node-proxier", "system:kube-dns", "system:auth-delegator"} {
			if _, err := c.Client.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Fatalf("clusterrole %s: %v", name, err)
			}
		}
		b, err := c.Client.RbacV1().ClusterRoleBindings().Get(ctx, "system:public-info-viewer", metav1.GetOptions{})
		if err != nil || len(b.Subjects) != 2 {
			t.Fatalf("system:public-info-viewer binding: %v %v", err, b)
		}
		dns, err := c.Client.RbacV1().ClusterRoles().Get(ctx, "system:kube-dns", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		kubectl(t, c, "delete", "clusterrole", "view")
		kubectl(t, c, "delete", "clusterrolebinding", "system:basic-user")
		// Rules an operator removed from an autoupdate role come back; a role marked autoupdate=false is kept as is.
		kubectl(t, c, "patch", "clusterrole", "system:kube-dns", "--type=json", "-p", `[{"op":"remove","path":"/rules/0"}]`)
		kubectl(t, c, "annotate", "--overwrite", "clusterrole", "system:auth-delegator", "rbac.authorization.kubernetes.io/autoupdate=false")
		kubectl(t, c, "patch", "clusterrole", "system:auth-delegator", "--type=json", "-p", `[{"op":"remove","path":"/rules/0"}]`)
		c.Restart(t)
		if _, err := c.Client.RbacV1().ClusterRoleBindings().Get(ctx, "system:basic-user", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		// The missing rule comes back (as upstream, split into one rule per verb and resource).
		if r, err := c.Client.RbacV1().ClusterRoles().Get(ctx, "system:kube-dns", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		} else if ok, missing := rbac.Covers(r.Rules, dns.Rules); !ok {
			t.Fatalf("system:kube-dns still lacks %v", missing)
		}
		if r, err := c.Client.RbacV1().ClusterRoles().Get(ctx, "system:auth-delegator", metav1.GetOptions{}); err != nil || len(r.Rules) != 1 {
			t.Fatalf("system:auth-delegator (autoupdate=false) was changed: %v %v", err, r)
		}
		eventually(t, 20*time.Second, func() error {
			r, err := c.Client.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(r.Rules, func(p rbacv1.PolicyRule) bool { return slices.Contains(p.Resources, "pods") }) {
				return errorf("view has no pods rule yet")
			}
			return nil
		})
		// alice's binding to view works again.
		eventually(t, 20*time.Second, func() error {
			_, err := kubectlErr(c, as(alice, "get", "pods", "-n", "a")...)
			return err
		})
	})
}
