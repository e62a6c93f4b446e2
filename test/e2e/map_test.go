package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

const mapSetup = `apiVersion: v1
kind: Namespace
metadata: {name: map-on, labels: {x: "yes"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: map-off}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: defaults, namespace: map-on}
data: {team: blue, pullPolicy: IfNotPresent}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: team-and-pull}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  reinvocationPolicy: IfNeeded
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >
        Object{
          metadata: Object.metadata{labels: {"team": params.data.team}},
          spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{
            containers: object.spec.template.spec.containers.map(c,
              Object.spec.template.spec.containers{name: c.name, imagePullPolicy: params.data.pullPolicy})}}}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: team-and-pull}
spec:
  policyName: team-and-pull
  paramRef: {name: defaults, parameterNotFoundAction: Deny}
  matchResources:
    namespaceSelector: {matchLabels: {x: "yes"}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: annotate}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  reinvocationPolicy: Never
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >
        [JSONPatch{op: "add", path: "/metadata/annotations", value: {}},
         JSONPatch{op: "add", path: "/metadata/annotations/" + jsonpatch.escapeKey("example.com/mutated-by"), value: "map"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: annotate}
spec:
  policyName: annotate
`

func mapDeployment(name, ns, labels string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s, labels: {%s}}
spec:
  replicas: 1
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - {name: a, image: registry.k8s.io/pause:3.10, imagePullPolicy: Always}
      - {name: b, image: registry.k8s.io/pause:3.10}
`, name, ns, labels, name, name)
}

// TestMutatingAdmissionPolicy: (a) an ApplyConfiguration policy with ConfigMap params labels Deployments in
// namespaces labelled x and sets imagePullPolicy on every container (list merge by name); (b) a JSONPatch
// policy annotates every Deployment; kubectl create then get shows both. (c) A mutation that makes the
// object invalid is refused by the later validation with a 422; (d) a policy whose CEL does not compile is
// refused at creation with a 422.
func TestMutatingAdmissionPolicy(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	kubectlIn(t, c, mapSetup, "apply", "-f", "-")

	// Policies are active once a server-side dry run shows the annotation.
	eventually(t, 30*time.Second, func() error {
		out, _, err := c.Kubectl(ctx, mapDeployment("probe", "map-on", "app: probe"), "create", "--dry-run=server", "-o", "yaml", "-f", "-")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "example.com/mutated-by: map") || !strings.Contains(out, "team: blue") {
			return fmt.Errorf("policies not active yet")
		}
		return nil
	})

	kubectlIn(t, c, mapDeployment("web", "map-on", "app: web"), "create", "-f", "-")
	out := kubectlIn(t, c, "", "get", "deployment", "web", "-n", "map-on",
		"-o", `jsonpath={.metadata.labels.team} {.metadata.labels.app} {.metadata.annotations.example\.com/mutated-by} {range .spec.template.spec.containers[*]}{.name}={.imagePullPolicy} {end}`)
	if strings.TrimSpace(out) != "blue web map a=IfNotPresent b=IfNotPresent" {
		t.Fatalf("mutated deployment: %q", out)
	}
	// Outside the labelled namespace only the JSONPatch policy applies.
	kubectlIn(t, c, mapDeployment("web", "map-off", "app: web"), "create", "-f", "-")
	d, err := c.Client.AppsV1().Deployments("map-off").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Labels["team"] != "" || d.Annotations["example.com/mutated-by"] != "map" || d.Spec.Template.Spec.Containers[0].ImagePullPolicy != "Always" {
		t.Fatalf("map-off deployment: labels %v annotations %v containers %+v", d.Labels, d.Annotations, d.Spec.Template.Spec.Containers)
	}

	// (c) A mutation that makes the object invalid: the registry validation after admission refuses it.
	kubectlIn(t, c, `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: break-replicas}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  matchConditions:
  - {name: breakme, expression: "has(object.metadata.labels) && 'breakme' in object.metadata.labels"}
  reinvocationPolicy: Never
  mutations:
  - patchType: JSONPatch
    jsonPatch: {expression: '[JSONPatch{op: "replace", path: "/spec/replicas", value: -3}]'}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: break-replicas}
spec: {policyName: break-replicas}
`, "apply", "-f", "-")
	eventually(t, 30*time.Second, func() error {
		_, stderr, err := c.Kubectl(ctx, mapDeployment("broken", "map-off", "breakme: 'yes'"), "create", "--dry-run=server", "-f", "-")
		if err == nil {
			return fmt.Errorf("break-replicas not active yet")
		}
		if !strings.Contains(stderr, "spec.replicas") {
			return fmt.Errorf("unexpected error: %s", stderr)
		}
		return nil
	})
	msg := kubectlInFails(t, c, mapDeployment("broken", "map-off", "breakme: 'yes'"), "create", "-f", "-")
	mustContain(t, msg, `The Deployment "broken" is invalid`, "spec.replicas: Invalid value: -3: must be greater than or equal to 0")

	// (d) A mutation whose CEL does not compile is refused at creation, with the field path.
	msg = kubectlInFails(t, c, `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: bad-cel}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration: {expression: 'Object{metadata: '}
`, "apply", "-f", "-")
	mustContain(t, msg, `The MutatingAdmissionPolicy "bad-cel" is invalid`, `spec.mutations[0].applyConfiguration.expression: Invalid value: "Object{metadata: ": compilation failed`)
}

// TestMutationCannotChangeSystemFields: what is the server's to set is set again after mutating admission,
// as upstream: a policy that moves a ConfigMap to another namespace gets the create refused (400); one that
// sets a Deployment's uid and status on create or its status on update, or a CSR's requester, has no effect
// (no pod becomes ready without a scheduler, so readyReplicas 7 can only come from the policy).
func TestMutationCannotChangeSystemFields(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	kubectlIn(t, c, `apiVersion: v1
kind: Namespace
metadata: {name: sys-on, labels: {sys: "yes"}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: meddle}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
    - {apiGroups: [certificates.k8s.io], apiVersions: [v1], operations: [CREATE], resources: [certificatesigningrequests]}
  reinvocationPolicy: Never
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >
        request.resource.resource == "configmaps" ?
          [JSONPatch{op: "replace", path: "/metadata/namespace", value: "kube-system"}] :
        request.resource.resource == "deployments" && request.operation == "CREATE" ?
          [JSONPatch{op: "add", path: "/metadata/uid", value: "chosen-by-policy"},
           JSONPatch{op: "add", path: "/status", value: {"replicas": 7, "readyReplicas": 7}}] :
        request.resource.resource == "deployments" ?
          [JSONPatch{op: "add", path: "/status/readyReplicas", value: 7}] :
          [JSONPatch{op: "replace", path: "/spec/username", value: "system:admin"},
           JSONPatch{op: "add", path: "/spec/groups", value: ["system:masters"]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: meddle}
spec:
  policyName: meddle
  matchResources:
    namespaceSelector: {matchLabels: {sys: "yes"}}
`, "apply", "-f", "-")
	// Wait until the policy acts (a CSR is cluster-scoped: the namespaceSelector always matches it).
	var csrName string
	eventually(t, 30*time.Second, func() error {
		csrName = fmt.Sprintf("probe-%d", time.Now().UnixNano())
		kubectlIn(t, c, fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: %s}
spec:
  request: %s
  signerName: example.com/test
  usages: [client auth]
`, csrName, base64.StdEncoding.EncodeToString(testCSR(t))), "create", "-f", "-")
		csr, err := c.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, csrName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if csr.Spec.Username != "admin" || !slices.Contains(csr.Spec.Groups, "system:authenticated") {
			t.Fatalf("a policy set the CSR requester: %q %v", csr.Spec.Username, csr.Spec.Groups)
		}
		// The policy ran once the ConfigMap create is refused.
		if _, _, err := c.Kubectl(ctx, "", "create", "configmap", "probe", "-n", "sys-on", "--dry-run=server"); err == nil {
			return fmt.Errorf("policy not active yet")
		}
		return nil
	})
	out := kubectlFails(t, c, "create", "configmap", "moved", "-n", "sys-on")
	mustContain(t, out, "the namespace of the provided object does not match the namespace sent on the request")
	if _, err := c.Client.CoreV1().ConfigMaps("kube-system").Get(ctx, "moved", metav1.GetOptions{}); err == nil {
		t.Fatal("the ConfigMap was stored in kube-system")
	}
	kubectlIn(t, c, mapDeployment("sys", "sys-on", "app: sys"), "create", "-f", "-")
	d, err := c.Client.AppsV1().Deployments("sys-on").Get(ctx, "sys", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.UID == "chosen-by-policy" || d.Status.ReadyReplicas == 7 {
		t.Fatalf("policy set system fields on create: uid %s status %+v", d.UID, d.Status)
	}
	kubectl(t, c, "label", "deployment", "sys", "-n", "sys-on", "touched=yes")
	if d, err = c.Client.AppsV1().Deployments("sys-on").Get(ctx, "sys", metav1.GetOptions{}); err != nil || d.Status.ReadyReplicas == 7 || d.Labels["touched"] != "yes" {
		t.Fatalf("policy set the status through an update: %+v %v", d.Status, err)
	}
}
