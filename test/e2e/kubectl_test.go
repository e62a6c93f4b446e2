package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

func TestKubectlEmbeddedEtcd(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	runKubectlSuite(t, c)
}

func TestKubectlExternalEtcd(t *testing.T) {
	e := framework.StartEtcd(t)
	c := framework.Start(t, framework.Options{EtcdServers: []string{e.Endpoint}})
	runKubectlSuite(t, c)
}

// runKubectlSuite is the user's tour of the API with upstream kubectl; it runs against every storage setup.
func runKubectlSuite(t *testing.T, c *framework.Cluster) {
	app := filepath.Join("testdata", "app.yaml")

	t.Run("SystemNamespaces", func(t *testing.T) {
		out := kubectl(t, c, "get", "namespaces")
		mustContain(t, out, "default", "kube-system", "kube-public", "kube-node-lease", "Active")
	})

	t.Run("CreateFromYAML", func(t *testing.T) {
		out := kubectl(t, c, "create", "-f", app)
		mustContain(t, out, "namespace/e2e-app created", "configmap/web-config created", "secret/web-secret created",
			"service/web created", "deployment.apps/web created")
		out = kubectl(t, c, "get", "configmaps,secrets,services,deployments", "-n", "e2e-app")
		mustContain(t, out, "configmap/web-config", "secret/web-secret", "Opaque", "service/web", "ClusterIP", "deployment.apps/web")
		out = kubectl(t, c, "get", "secret", "web-secret", "-n", "e2e-app", "-o", "jsonpath={.data.password}")
		if out != "czNjcmV0" {
			t.Fatalf("secret stringData not converted to data: %q", out)
		}
		stderr := kubectlFails(t, c, "create", "-f", app)
		mustContain(t, stderr, "AlreadyExists")
	})

	t.Run("GetOutputFormats", func(t *testing.T) {
		out := kubectl(t, c, "get", "deployment", "web", "-n", "e2e-app", "-o", "yaml", "--show-managed-fields")
		mustContain(t, out, "kind: Deployment", "replicas: 2", "resourceVersion:", "uid:", "creationTimestamp:", "generation: 1",
			"strategy:", "type: RollingUpdate", "managedFields")
		out = kubectl(t, c, "get", "service", "web", "-n", "e2e-app", "-o", "json")
		var svc corev1.Service
		if err := json.Unmarshal([]byte(out), &svc); err != nil {
			t.Fatalf("get -o json: %v\n%s", err, out)
		}
		if svc.Spec.SessionAffinity != corev1.ServiceAffinityNone || svc.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
			t.Fatalf("service defaults missing: %+v", svc.Spec)
		}
		out = kubectl(t, c, "get", "deployment", "web", "-n", "e2e-app", "-o", "wide")
		mustContain(t, out, "READY", "UP-TO-DATE", "AVAILABLE", "CONTAINERS", "IMAGES", "SELECTOR", "busybox:1.36", "app=web")
		out = kubectl(t, c, "get", "configmap", "web-config", "-n", "e2e-app", "-o", "jsonpath={.data.greeting}")
		if out != "hello" {
			t.Fatalf("jsonpath: %q", out)
		}
		out = kubectl(t, c, "get", "configmaps", "-A")
		mustContain(t, out, "NAMESPACE", "e2e-app", "web-config")
	})

	t.Run("LabelAnnotate", func(t *testing.T) {
		kubectl(t, c, "label", "configmap", "web-config", "-n", "e2e-app", "tier=frontend")
		kubectl(t, c, "annotate", "configmap", "web-config", "-n", "e2e-app", "owner=team-a")
		out := kubectl(t, c, "get", "configmaps", "-n", "e2e-app", "-l", "tier=frontend", "-o", "name")
		mustContain(t, out, "configmap/web-config")
		out = kubectl(t, c, "get", "configmap", "web-config", "-n", "e2e-app", "-o", "jsonpath={.metadata.annotations.owner}")
		if out != "team-a" {
			t.Fatalf("annotation: %q", out)
		}
		kubectl(t, c, "label", "configmap", "web-config", "-n", "e2e-app", "tier-")
		out = kubectl(t, c, "get", "configmaps", "-n", "e2e-app", "-l", "tier=frontend", "-o", "name")
		if strings.TrimSpace(out) != "" {
			t.Fatalf("label not removed: %q", out)
		}
	})

	t.Run("Patch", func(t *testing.T) {
		kubectl(t, c, "patch", "configmap", "web-config", "-n", "e2e-app", "--type=merge", "-p", `{"data":{"merge":"yes"}}`)
		kubectl(t, c, "patch", "configmap", "web-config", "-n", "e2e-app", "--type=json", "-p", `[{"op":"add","path":"/data/json","value":"yes"}]`)
		kubectl(t, c, "patch", "deployment", "web", "-n", "e2e-app", "-p",
			`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:1.37"}]}}}}`)
		out := kubectl(t, c, "get", "configmap", "web-config", "-n", "e2e-app", "-o", "jsonpath={.data.merge},{.data.json}")
		if out != "yes,yes" {
			t.Fatalf("merge/json patch: %q", out)
		}
		out = kubectl(t, c, "get", "deployment", "web", "-n", "e2e-app", "-o", "jsonpath={.spec.template.spec.containers[0].image},{.spec.template.spec.containers[0].command[0]},{.metadata.generation}")
		if out != "busybox:1.37,httpd,2" {
			t.Fatalf("strategic patch kept the list merged by name and bumped generation? got %q", out)
		}
		stderr := kubectlFails(t, c, "patch", "configmap", "web-config", "-n", "e2e-app", "--type=json", "-p", `[{"op":"remove","path":"/data/missing"}]`)
		mustContain(t, stderr, "missing")
	})

	t.Run("Scale", func(t *testing.T) {
		out := kubectl(t, c, "scale", "deployment", "web", "-n", "e2e-app", "--replicas=4")
		mustContain(t, out, "deployment.apps/web scaled")
		out = kubectl(t, c, "get", "deployment", "web", "-n", "e2e-app", "-o", "jsonpath={.spec.replicas}")
		if out != "4" {
			t.Fatalf("replicas %q", out)
		}
	})

	t.Run("ApplyClientSide", func(t *testing.T) {
		manifest := func(v string) string {
			return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: e2e-app\ndata:\n  version: %q\n", v)
		}
		out := kubectlIn(t, c, manifest("1"), "apply", "-f", "-")
		mustContain(t, out, "configmap/applied created")
		out = kubectlIn(t, c, manifest("1"), "apply", "-f", "-")
		mustContain(t, out, "configmap/applied unchanged")
		diffOut, _, err := c.Kubectl(context.Background(), manifest("2"), "diff", "-f", "-")
		if err == nil {
			t.Fatalf("kubectl diff with a change should exit 1")
		}
		mustContain(t, diffOut, `-  version: "1"`, `+  version: "2"`)
		out = kubectlIn(t, c, manifest("2"), "apply", "-f", "-")
		mustContain(t, out, "configmap/applied configured")
		out = kubectl(t, c, "get", "configmap", "applied", "-n", "e2e-app", "-o", "jsonpath={.data.version}")
		if out != "2" {
			t.Fatalf("apply did not update: %q", out)
		}
		kubectlIn(t, c, manifest("2"), "diff", "-f", "-")
	})

	t.Run("ApplyServerSide", func(t *testing.T) {
		manifest := func(replicas int) string {
			return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
  namespace: e2e-app
spec:
  replicas: %d
  selector:
    matchLabels: {app: ssa}
  template:
    metadata:
      labels: {app: ssa}
    spec:
      containers:
      - name: main
        image: busybox:1.36
`, replicas)
		}
		out := kubectlIn(t, c, manifest(1), "apply", "--server-side", "-f", "-")
		mustContain(t, out, "deployment.apps/ssa serverside-applied")
		out = kubectlIn(t, c, manifest(3), "apply", "--server-side", "-f", "-")
		mustContain(t, out, "deployment.apps/ssa serverside-applied")
		out = kubectl(t, c, "get", "deployment", "ssa", "-n", "e2e-app", "-o", "jsonpath={.spec.replicas} {.metadata.managedFields[0].manager} {.metadata.managedFields[0].operation}")
		if out != "3 kubectl Apply" {
			t.Fatalf("server-side apply result: %q", out)
		}
		// Another manager owning spec.replicas makes a conflicting apply fail unless forced.
		kubectl(t, c, "patch", "deployment", "ssa", "-n", "e2e-app", "--type=merge", "-p", `{"spec":{"replicas":5}}`, "--field-manager=other")
		stderr := kubectlFails(t, c, "apply", "--server-side", "-f", writeTemp(t, manifest(2)))
		mustContain(t, stderr, "conflict")
		out = kubectl(t, c, "apply", "--server-side", "--force-conflicts", "-f", writeTemp(t, manifest(2)))
		mustContain(t, out, "serverside-applied")
	})

	t.Run("Edit", func(t *testing.T) {
		editor := writeTemp(t, "#!/bin/sh\nsed -i 's/greeting: hello/greeting: edited/' \"$1\"\n")
		if err := os.Chmod(editor, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := c.KubectlCmd(context.Background(), "edit", "configmap", "web-config", "-n", "e2e-app")
		cmd.Env = append(os.Environ(), "EDITOR="+editor, "KUBE_EDITOR="+editor)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("edit: %v\n%s", err, out)
		}
		out := kubectl(t, c, "get", "configmap", "web-config", "-n", "e2e-app", "-o", "jsonpath={.data.greeting}")
		if out != "edited" {
			t.Fatalf("edit not saved: %q", out)
		}
	})

	t.Run("DryRunServer", func(t *testing.T) {
		out := kubectl(t, c, "create", "configmap", "dry", "-n", "e2e-app", "--from-literal=a=b", "--dry-run=server", "-o", "yaml")
		mustContain(t, out, "name: dry", "uid:")
		stderr := kubectlFails(t, c, "get", "configmap", "dry", "-n", "e2e-app")
		mustContain(t, stderr, "NotFound")
		kubectl(t, c, "delete", "configmap", "web-config", "-n", "e2e-app", "--dry-run=server")
		kubectl(t, c, "get", "configmap", "web-config", "-n", "e2e-app")
	})

	t.Run("Discovery", func(t *testing.T) {
		out := kubectl(t, c, "api-resources")
		mustContain(t, out, "pods", "po", "deployments", "deploy", "apps/v1", "configmaps", "namespaces", "false", "Namespace")
	})

	t.Run("APIVersions", func(t *testing.T) {
		out := kubectl(t, c, "api-versions")
		mustContain(t, out, "v1\n", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
			"coordination.k8s.io/v1", "storage.k8s.io/v1", "policy/v1", "autoscaling/v2", "discovery.k8s.io/v1")
	})

	t.Run("Explain", func(t *testing.T) {
		out := kubectl(t, c, "explain", "pod.spec.containers")
		mustContain(t, out, "KIND:", "Pod", "FIELD: containers", "image", "name")
	})

	t.Run("GetWatch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := c.KubectlCmd(ctx, "get", "configmaps", "-n", "e2e-app", "-w", "--output-watch-events")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		waitLine := func(want string) {
			t.Helper()
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("watch ended before %q", want)
					}
					if strings.Contains(l, want) {
						return
					}
				case <-ctx.Done():
					t.Fatalf("no watch line with %q", want)
				}
			}
		}
		waitLine("web-config")
		// Another client changes things; kubectl's watch must show it.
		if _, err := c.Client.CoreV1().ConfigMaps("e2e-app").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "watched"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitLine("ADDED")
		if err := c.Client.CoreV1().ConfigMaps("e2e-app").Delete(ctx, "watched", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitLine("DELETED")
	})

	t.Run("DeleteWait", func(t *testing.T) {
		// The namespace controller may remove the namespace's content before kubectl gets to it.
		out := kubectl(t, c, "delete", "-f", app, "--wait", "--ignore-not-found")
		mustContain(t, out, `namespace "e2e-app" deleted`)
		stderr := kubectlFails(t, c, "get", "namespace", "e2e-app")
		mustContain(t, stderr, "NotFound")
		out = kubectl(t, c, "get", "deployments,configmaps", "-A")
		if strings.Contains(out, "e2e-app") {
			t.Fatalf("namespace content left behind:\n%s", out)
		}
	})
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "e2e-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return f.Name()
}
