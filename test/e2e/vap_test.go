package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

const vapAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:apiserver"]
  - level: Metadata
    resources: [{group: apps, resources: [deployments]}]
  - level: None
`

const vapSetup = `apiVersion: v1
kind: Namespace
metadata: {name: vap-on, labels: {policy: "on"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: vap-off}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: limits, namespace: vap-on}
data: {maxReplicas: "3"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: max-replicas}
spec:
  failurePolicy: Fail
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  matchConditions:
  - name: not-exempt
    expression: "!has(object.metadata.labels) || !('exempt' in object.metadata.labels)"
  variables:
  - {name: max, expression: "int(params.data.maxReplicas)"}
  validations:
  - expression: "object.spec.replicas <= variables.max"
    messageExpression: "'replicas ' + string(object.spec.replicas) + ' exceeds ' + string(variables.max)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-replicas-deny}
spec:
  policyName: max-replicas
  validationActions: [Deny]
  paramRef: {name: limits, parameterNotFoundAction: Deny}
  matchResources:
    namespaceSelector: {matchLabels: {policy: "on"}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: require-team}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
    message: deployments should have a team label
  auditAnnotations:
  - {key: replicas, valueExpression: "string(object.spec.replicas)"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: require-team-warn}
spec:
  policyName: require-team
  validationActions: [Warn]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: require-team-audit}
spec:
  policyName: require-team
  validationActions: [Audit]
`

func vapDeployment(name, ns string, replicas int, labels string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s, labels: {%s}}
spec:
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: c, image: registry.k8s.io/pause:3.10}]}
`, name, ns, labels, replicas, name, name)
}

// TestValidatingAdmissionPolicy: a policy with ConfigMap params denies a Deployment with too many replicas
// (upstream's message, kubectl exit code 1) and admits a compliant one; a Warn binding's failure reaches
// kubectl as a Warning, an Audit binding's lands in the audit log (validation_failure) with the policy's
// auditAnnotations; matchConditions and the binding's namespaceSelector limit what is checked; a policy
// whose CEL does not compile is refused with 422; status.observedGeneration follows the policy.
func TestValidatingAdmissionPolicy(t *testing.T) {
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(vapAuditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler", "--audit-policy-file", policyFile, "--audit-log-path", logPath}})
	ctx := context.Background()
	kubectlIn(t, c, vapSetup, "apply", "-f", "-")

	big := vapDeployment("big", "vap-on", 5, "team: a")
	eventually(t, 30*time.Second, func() error {
		if _, _, err := c.Kubectl(ctx, big, "apply", "--dry-run=server", "-f", "-"); err == nil {
			return fmt.Errorf("policy not active yet")
		}
		return nil
	})
	// (a) Denied, with upstream's message; the exit code is kubectl's 1.
	out, stderr, err := c.Kubectl(ctx, big, "apply", "-f", "-")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("apply of a 5-replica deployment: %v\n%s%s", err, out, stderr)
	}
	mustContain(t, stderr, `The deployments "big" is invalid`,
		`ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-deny' denied request: replicas 5 exceeds 3`)
	_, err = c.Client.AppsV1().Deployments("vap-on").Get(ctx, "big", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("denied deployment stored: %v", err)
	}
	kubectlIn(t, c, vapDeployment("small", "vap-on", 2, "team: a"), "apply", "-f", "-")
	// An update past the limit is denied too.
	msg := kubectlInFails(t, c, vapDeployment("small", "vap-on", 4, "team: a"), "apply", "-f", "-")
	mustContain(t, msg, "denied request: replicas 4 exceeds 3")

	// (d) matchConditions: exempt deployments are not checked; namespaceSelector: nor is vap-off.
	kubectlIn(t, c, vapDeployment("exempt", "vap-on", 5, "team: a, exempt: 'yes'"), "apply", "-f", "-")
	kubectlIn(t, c, vapDeployment("elsewhere", "vap-off", 5, "team: a"), "apply", "-f", "-")

	// (b) Warn: a deployment without a team label is admitted with a warning.
	_, stderr, err = c.Kubectl(ctx, vapDeployment("noteam", "vap-off", 1, "tier: web"), "apply", "-f", "-")
	if err != nil {
		t.Fatalf("noteam: %v: %s", err, stderr)
	}
	mustContain(t, stderr, "Warning: Validation failed for ValidatingAdmissionPolicy 'require-team' with binding 'require-team-warn': deployments should have a team label")

	// (c) Audit: the failure and the policy's audit annotation are in the create's audit event.
	ev := findAudit(t, logPath, "noteam create", func(ev auditEvent) bool {
		return ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Name == "noteam"
	})
	var failures []map[string]any
	if err := json.Unmarshal([]byte(ev.Annotations["validation.policy.admission.k8s.io/validation_failure"]), &failures); err != nil || len(failures) != 1 {
		t.Fatalf("validation_failure annotation: %v: %s", err, ev.line)
	}
	f := failures[0]
	if f["policy"] != "require-team" || f["binding"] != "require-team-audit" || f["message"] != "deployments should have a team label" ||
		f["expressionIndex"] != float64(0) || fmt.Sprint(f["validationActions"]) != "[Audit]" {
		t.Fatalf("validation_failure: %v", f)
	}
	if ev.Annotations["require-team/replicas"] != "1" {
		t.Fatalf("auditAnnotations: %s", ev.line)
	}

	// (e) A validation that does not compile is refused at creation with 422 and the field path.
	bad := strings.Replace(strings.Split(vapSetup, "---\n")[5], "name: require-team", "name: bad-cel", 1)
	bad = strings.Replace(bad, `"has(object.metadata.labels) && 'team' in object.metadata.labels"`, `"object.spec.replicas <"`, 1)
	msg = kubectlInFails(t, c, bad, "apply", "-f", "-")
	mustContain(t, msg, `The ValidatingAdmissionPolicy "bad-cel" is invalid`, `spec.validations[0].expression: Invalid value: "object.spec.replicas <": compilation failed`)
	fail := admissionregv1.Fail
	_, err = c.Client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, &admissionregv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-cel"},
		Spec: admissionregv1.ValidatingAdmissionPolicySpec{FailurePolicy: &fail,
			MatchConstraints: &admissionregv1.MatchResources{ResourceRules: []admissionregv1.NamedRuleWithOperations{{RuleWithOperations: admissionregv1.RuleWithOperations{
				Operations: []admissionregv1.OperationType{admissionregv1.Create},
				Rule:       admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}}},
			Validations: []admissionregv1.Validation{{Expression: "object.nope("}}},
	}, metav1.CreateOptions{})
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != 422 || !apierrors.IsInvalid(err) {
		t.Fatalf("bad CEL policy: %v", err)
	}

	// A binding whose validationActions are both Deny and Warn is refused too.
	msg = kubectlInFails(t, c, `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: both}
spec: {policyName: require-team, validationActions: [Deny, Warn]}
`, "apply", "-f", "-")
	mustContain(t, msg, "must not contain both Deny and Warn")

	// status: observedGeneration catches up with the policy's generation.
	eventually(t, 30*time.Second, func() error {
		p, err := c.Client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, "max-replicas", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Generation == 0 || p.Status.ObservedGeneration != p.Generation || p.Status.TypeChecking == nil {
			return fmt.Errorf("generation %d, status %+v", p.Generation, p.Status)
		}
		return nil
	})
}
