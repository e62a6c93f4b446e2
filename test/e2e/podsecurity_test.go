package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

const podSecurityConfig = `apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults:
  audit: restricted
exemptions:
  namespaces: [psa-exempt]
`

const podSecurityAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
  resources: [{group: "", resources: ["pods"]}]
- level: None
`

func podYAML(name, namespace, securityContext string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `, namespace: ` + namespace + `}
spec:
  containers:
  - name: c
    image: busybox
` + securityContext
}

const privilegedSC = `    securityContext: {privileged: true}
`

const restrictedSC = `    securityContext:
      allowPrivilegeEscalation: false
      runAsNonRoot: true
      runAsUser: 1000
      seccompProfile: {type: RuntimeDefault}
      capabilities: {drop: [ALL]}
`

// kubectlStdin runs kubectl with stdin and returns stdout, stderr and whether it succeeded.
func kubectlStdin(t *testing.T, c *framework.Cluster, stdin string, args ...string) (string, string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, stdin, args...)
	return out, errOut, err == nil
}

// TestPodSecurity: the Pod Security Standards through namespace labels, as kubectl users see them.
func TestPodSecurity(t *testing.T) {
	dir := t.TempDir()
	cfgPath, policyPath, logPath := filepath.Join(dir, "psa.yaml"), filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(cfgPath, []byte(podSecurityConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policyPath, []byte(podSecurityAuditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--pod-security-admission-config", cfgPath,
		"--audit-policy-file", policyPath, "--audit-log-path", logPath}})
	ctx := context.Background()

	// enforce=restricted refuses a privileged pod with upstream's message; kubectl exits non-zero.
	kubectl(t, c, "create", "namespace", "psa-restricted")
	kubectl(t, c, "label", "namespace", "psa-restricted", "pod-security.kubernetes.io/enforce=restricted")
	_, stderr, ok := kubectlStdin(t, c, podYAML("priv", "psa-restricted", privilegedSC), "create", "-f", "-")
	if ok {
		t.Fatal("privileged pod created in an enforce=restricted namespace")
	}
	mustContain(t, stderr, `Error from server (Forbidden)`, `pods "priv" is forbidden: violates PodSecurity "restricted:latest": `+
		`privileged (container "c" must not set securityContext.privileged=true), `+
		`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), `+
		`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), `+
		`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), `+
		`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`)
	if _, err := c.Client.CoreV1().Pods("psa-restricted").Get(ctx, "priv", metav1.GetOptions{}); err == nil {
		t.Fatal("refused pod exists")
	}
	// A compliant pod is accepted without warnings.
	_, stderr, ok = kubectlStdin(t, c, podYAML("ok", "psa-restricted", restrictedSC), "create", "-f", "-")
	if !ok || strings.Contains(stderr, "Warning") {
		t.Fatalf("restricted pod: ok=%v stderr: %s", ok, stderr)
	}

	// A Deployment with a privileged template is created, with a warning (enforce is for pods; warn follows
	// an explicit enforce level).
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: psa-restricted}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox
        securityContext: {privileged: true}
`
	_, stderr, ok = kubectlStdin(t, c, deploy, "create", "-f", "-")
	if !ok {
		t.Fatalf("deployment refused: %s", stderr)
	}
	mustContain(t, stderr, `Warning: would violate PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`)

	// warn=baseline: kubectl prints the warning and the pod is created.
	kubectl(t, c, "create", "namespace", "psa-warn")
	kubectl(t, c, "label", "namespace", "psa-warn", "pod-security.kubernetes.io/warn=baseline")
	hostNet := strings.Replace(podYAML("hostnet", "psa-warn", privilegedSC), "spec:\n", "spec:\n  hostNetwork: true\n", 1)
	_, stderr, ok = kubectlStdin(t, c, hostNet, "create", "-f", "-")
	if !ok {
		t.Fatalf("warn-only namespace refused the pod: %s", stderr)
	}
	mustContain(t, stderr, `Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true), privileged (container "c" must not set securityContext.privileged=true)`)
	if _, err := c.Client.CoreV1().Pods("psa-warn").Get(ctx, "hostnet", metav1.GetOptions{}); err != nil {
		t.Fatalf("warned pod: %v", err)
	}
	// The server-wide default audit=restricted annotates the audit event.
	ev := findAudit(t, logPath, "pod create with audit violations", func(ev auditEvent) bool {
		return ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Name == "hostnet" && ev.Stage == "ResponseComplete"
	})
	if v := ev.Annotations["pod-security.kubernetes.io/audit-violations"]; !strings.HasPrefix(v, `would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true), privileged`) {
		t.Fatalf("audit annotation: %q\n%s", v, ev.line)
	}

	// Enforcing a level the existing pods violate warns about them (and is applied).
	_, stderr, ok = kubectlStdin(t, c, "", "label", "namespace", "psa-warn", "pod-security.kubernetes.io/enforce=baseline")
	if !ok {
		t.Fatalf("label: %s", stderr)
	}
	mustContain(t, stderr, `Warning: existing pods in namespace "psa-warn" violate the new PodSecurity enforce level "baseline:latest"`,
		`Warning: hostnet: host namespaces, privileged`)

	// Invalid label values are refused (422).
	_, stderr, ok = kubectlStdin(t, c, "", "label", "namespace", "psa-warn", "pod-security.kubernetes.io/audit=strict")
	if ok {
		t.Fatal("invalid level accepted")
	}
	mustContain(t, stderr, `metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "strict": must be one of privileged, baseline, restricted`)
	_, stderr, ok = kubectlStdin(t, c, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: psa-bad\n  labels: {pod-security.kubernetes.io/enforce-version: \"1.30\"}\n", "create", "-f", "-")
	if ok {
		t.Fatal("invalid version accepted")
	}
	mustContain(t, stderr, `Invalid value: "1.30": must be "latest" or "v1.x"`)

	// A pinned version is accepted and named in messages.
	kubectl(t, c, "label", "namespace", "psa-restricted", "--overwrite", "pod-security.kubernetes.io/enforce-version=v1.30")
	_, stderr, _ = kubectlStdin(t, c, podYAML("priv2", "psa-restricted", privilegedSC), "create", "-f", "-")
	mustContain(t, stderr, `violates PodSecurity "restricted:v1.30": privileged`)

	// Exempt namespaces (from --pod-security-admission-config) are not checked.
	kubectl(t, c, "create", "namespace", "psa-exempt")
	kubectl(t, c, "label", "namespace", "psa-exempt", "pod-security.kubernetes.io/enforce=restricted")
	if _, stderr, ok := kubectlStdin(t, c, podYAML("priv", "psa-exempt", privilegedSC), "create", "-f", "-"); !ok {
		t.Fatalf("exempt namespace: %s", stderr)
	}
}
