package e2e

import (
	"context"
	"fmt"
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
