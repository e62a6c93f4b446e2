package openapi

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Server-side apply builds its type converter from Schemas().
func TestSchemasFeedTypeConverter(t *testing.T) {
	tc, err := managedfields.NewTypeConverter(testSpec(t).Schemas(), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	objects := map[string]runtime.Object{}
	for name, manifest := range map[string]string{
		"pod": `
apiVersion: v1
kind: Pod
metadata: {name: dns, labels: {app: dns}}
spec:
  containers:
  - name: dns
    image: coredns
    ports:               # same port over two protocols, one defaulted
    - {containerPort: 53}
    - {containerPort: 53, protocol: UDP}
    resources: {limits: {cpu: 100m, memory: 1Gi}}
    livenessProbe: {httpGet: {port: 8080, path: /health}}
  imagePullSecrets: [{name: regcred}]
`,
		"deployment": `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, env: [{name: A, value: "1"}]}]}
`,
		"service": `
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: dns}
  ports: [{port: 53, protocol: UDP, name: udp}, {port: 53, name: tcp}]
`,
	} {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
			t.Fatal(err)
		}
		objects[name] = u
		if _, err := tc.ObjectToTyped(u); err != nil {
			t.Errorf("%s (unstructured): %v", name, err)
		}
	}
	// Typed objects go through the same schemas.
	for _, obj := range []runtime.Object{&corev1.ConfigMap{Data: map[string]string{"a": "b"}}, &appsv1.StatefulSet{}} {
		gvks, _, err := scheme.Scheme.ObjectKinds(obj)
		if err != nil {
			t.Fatal(err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
		if _, err := tc.ObjectToTyped(obj); err != nil {
			t.Errorf("%T: %v", obj, err)
		}
	}
}
