package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"skiff/test/e2e/framework"
)

// kubectl runs kubectl and fails the test on a non-zero exit.
func kubectl(t *testing.T, c *framework.Cluster, args ...string) string {
	t.Helper()
	return kubectlIn(t, c, "", args...)
}

func kubectlIn(t *testing.T, c *framework.Cluster, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// kubectlFails runs kubectl expecting a non-zero exit and returns stderr.
func kubectlFails(t *testing.T, c *framework.Cluster, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, "", args...)
	if err == nil {
		t.Fatalf("kubectl %s succeeded, want failure\nstdout: %s", strings.Join(args, " "), out)
	}
	return errOut
}

func mustContain(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("output does not contain %q:\n%s", w, got)
		}
	}
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("condition not met after %s: %v", timeout, err)
}

func mustQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// webPodSpec is the pod spec the Service tests run behind their Services: one testserver container "web"
// with port "http" (8080), ready while /healthz answers (checked every second, one failure makes it not
// ready). Each line is prefixed with indent, for embedding in a manifest.
func webPodSpec(indent string) string {
	lines := []string{
		"terminationGracePeriodSeconds: 1",
		"containers:",
		"- name: web",
		"  image: skiff.local/testserver:1",
		"  imagePullPolicy: Never",
		"  ports: [{name: http, containerPort: 8080}]",
		"  readinessProbe:",
		"    httpGet: {path: /healthz, port: http}",
		"    periodSeconds: 1",
		"    failureThreshold: 1",
	}
	return indent + strings.Join(lines, "\n"+indent) + "\n"
}

// webDeployment is the Deployment "web" (pods labelled app=web, webPodSpec) in namespace ns (empty: the
// kubeconfig's), as a manifest document.
func webDeployment(ns string, replicas int) string {
	meta := "  name: web\n"
	if ns != "" {
		meta += "  namespace: " + ns + "\n"
	}
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n" + meta + fmt.Sprintf(`spec:
  replicas: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
`, replicas) + webPodSpec("      ")
}
