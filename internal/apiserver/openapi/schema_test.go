package openapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const (
	podDef        = "io.k8s.api.core.v1.Pod"
	podSpecDef    = "io.k8s.api.core.v1.PodSpec"
	containerDef  = "io.k8s.api.core.v1.Container"
	deploymentDef = "io.k8s.api.apps.v1.Deployment"
)

func mustDef(t *testing.T, defs map[string]*spec.Schema, name string) *spec.Schema {
	t.Helper()
	s, ok := defs[name]
	if !ok {
		t.Fatalf("definition %s missing", name)
	}
	return s
}

// refOf returns the definition a v3 property points at, through allOf.
func refOf(s spec.Schema) string {
	if r := s.Ref.String(); r != "" {
		return strings.TrimPrefix(r, flavorV3.refPrefix())
	}
	if len(s.AllOf) == 1 {
		return refOf(s.AllOf[0])
	}
	return ""
}

func TestPodSchema(t *testing.T) {
	defs := testSpec(t).Schemas()
	pod := mustDef(t, defs, podDef)
	if got := refOf(pod.Properties["spec"]); got != podSpecDef {
		t.Fatalf("Pod.spec refers to %q", got)
	}
	if pod.Properties["spec"].Description == "" || pod.Description == "" {
		t.Errorf("Pod or Pod.spec lacks a description")
	}
	for _, f := range []string{"apiVersion", "kind", "metadata", "status"} {
		if _, ok := pod.Properties[f]; !ok {
			t.Errorf("Pod lacks %s (inline TypeMeta/ObjectMeta not flattened?)", f)
		}
	}
	podSpec := mustDef(t, defs, podSpecDef)
	containers := podSpec.Properties["containers"]
	if !containers.Type.Contains("array") || containers.Items == nil || refOf(*containers.Items.Schema) != containerDef {
		t.Fatalf("PodSpec.containers is not an array of Container: %+v", containers)
	}
	if !slices.Contains(podSpec.Required, "containers") {
		t.Errorf("PodSpec.required = %v, want containers", podSpec.Required)
	}
	if containers.Extensions["x-kubernetes-patch-merge-key"] != "name" ||
		containers.Extensions["x-kubernetes-patch-strategy"] != "merge" {
		t.Errorf("PodSpec.containers patch extensions = %v", containers.Extensions)
	}
	c := mustDef(t, defs, containerDef)
	name := c.Properties["name"]
	if !slices.Contains(c.Required, "name") || !name.Type.Contains("string") || name.Description == "" {
		t.Errorf("Container.name: required=%v type=%v description=%q", c.Required, name.Type, name.Description)
	}
	if slices.Contains(c.Required, "image") {
		t.Errorf("Container.image must not be required")
	}
	ports := c.Properties["ports"]
	if keys, _ := ports.Extensions["x-kubernetes-list-map-keys"].([]any); len(keys) != 2 {
		t.Errorf("Container.ports list-map-keys = %v, want containerPort+protocol", ports.Extensions)
	}
}

func TestDeploymentSchema(t *testing.T) {
	defs := testSpec(t).Schemas()
	d := mustDef(t, defs, deploymentDef)
	gvks, _ := d.Extensions[gvkExtension].([]any)
	want := map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"}
	if len(gvks) != 1 || !reflect.DeepEqual(gvks[0], want) {
		t.Errorf("Deployment %s = %v", gvkExtension, d.Extensions[gvkExtension])
	}
	list := mustDef(t, defs, "io.k8s.api.apps.v1.DeploymentList")
	if list.Extensions[gvkExtension] == nil || !slices.Contains(list.Required, "items") {
		t.Errorf("DeploymentList: extensions %v required %v", list.Extensions, list.Required)
	}
	ds := mustDef(t, defs, "io.k8s.api.apps.v1.DeploymentSpec")
	for _, f := range []string{"selector", "template"} {
		if !slices.Contains(ds.Required, f) {
			t.Errorf("DeploymentSpec.required = %v, missing %s", ds.Required, f)
		}
	}
	if slices.Contains(ds.Required, "replicas") {
		t.Errorf("DeploymentSpec.replicas must not be required")
	}
	// A +optional field without omitempty stays optional.
	sts := mustDef(t, defs, "io.k8s.api.apps.v1.StatefulSetSpec")
	if slices.Contains(sts.Required, "serviceName") {
		t.Errorf("StatefulSetSpec.serviceName is optional upstream")
	}
	// metav1 kinds list every served group-version, core included.
	del := mustDef(t, defs, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
	got, _ := json.Marshal(del.Extensions[gvkExtension])
	for _, want := range []string{`{"group":"","kind":"DeleteOptions","version":"v1"}`, `"group":"apps"`, `"group":"batch"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("DeleteOptions kinds %s lack %s", got, want)
		}
	}
}

func TestSpecialTypes(t *testing.T) {
	defs := testSpec(t).Schemas()
	for name, want := range map[string]string{
		"io.k8s.apimachinery.pkg.api.resource.Quantity":   `"oneOf":[{"type":"string"},{"type":"number"}]`,
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString": `"format":"int-or-string","oneOf":[{"type":"integer"},{"type":"string"}],"x-kubernetes-int-or-string":true`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       `"type":"string","format":"date-time"`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":  `"type":"string","format":"date-time"`,
		"io.k8s.apimachinery.pkg.runtime.RawExtension":    `"type":"object"`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1":   `"type":"object"`,
	} {
		b, _ := json.Marshal(mustDef(t, defs, name))
		if !strings.Contains(string(b), want) {
			t.Errorf("%s = %s, want it to contain %s", name, b, want)
		}
	}
	secret := mustDef(t, defs, "io.k8s.api.core.v1.Secret")
	data := secret.Properties["data"].AdditionalProperties.Schema
	if !data.Type.Contains("string") || data.Format != "byte" {
		t.Errorf("Secret.data values = %v/%q, want string/byte", data.Type, data.Format)
	}
}

// fixture exercises the reflection rules on a type of our own.
type fixture struct {
	metav1.TypeMeta `json:",inline"`
	Plain           string            `json:"plain"`
	Optional        *int32            `json:"optional,omitempty"`
	Hidden          string            `json:"-"`
	unexported      string            //nolint:unused // must be skipped
	Raw             []byte            `json:"raw,omitempty"`
	Labels          map[string]string `json:"labels,omitempty" patchStrategy:"merge"`
	Tags            []string          `json:"tags,omitempty" patchStrategy:"merge"`
	Items           []fixtureItem     `json:"items,omitempty" patchStrategy:"merge" patchMergeKey:"key"`
	Quantity        resource.Quantity `json:"quantity"`
	Port            intstr.IntOrString
	Duration        metav1.Duration `json:"duration,omitempty"`
	Any             interface{}     `json:"any,omitempty"`
	fixtureEmbedded
}

type fixtureItem struct {
	Key string `json:"key"`
}

type fixtureEmbedded struct {
	Deep  bool   `json:"deep"`
	Plain string `json:"plain,omitempty"` // shadowed by fixture.Plain
}

func TestReflectionRules(t *testing.T) {
	g := newGenerator(flavorV3)
	name := g.define(reflect.TypeOf(fixture{}))
	if g.err != nil {
		t.Fatal(g.err)
	}
	if name != "skiff.internal.apiserver.openapi.fixture" {
		t.Errorf("definition name %q", name)
	}
	s := g.defs[name]
	var props []string
	for p := range s.Properties {
		props = append(props, p)
	}
	slices.Sort(props)
	want := []string{"Port", "any", "apiVersion", "deep", "duration", "items", "kind", "labels", "optional",
		"plain", "quantity", "raw", "tags"}
	if !slices.Equal(props, want) {
		t.Errorf("properties = %v, want %v", props, want)
	}
	if !slices.Equal(s.Required, []string{"Port", "deep", "plain", "quantity"}) {
		t.Errorf("required = %v", s.Required)
	}
	if p := s.Properties["plain"]; p.Default != "" {
		t.Errorf("outer field must win over the embedded one: %+v", p)
	}
	if p := s.Properties["raw"]; p.Format != "byte" {
		t.Errorf("[]byte = %+v", p)
	}
	if p := s.Properties["tags"]; p.Extensions["x-kubernetes-list-type"] != "set" {
		t.Errorf("merged scalar list = %v, want set", p.Extensions)
	}
	if p := s.Properties["items"]; p.Extensions["x-kubernetes-list-type"] != "map" ||
		!reflect.DeepEqual(p.Extensions["x-kubernetes-list-map-keys"], []any{"key"}) {
		t.Errorf("keyed list = %v", p.Extensions)
	}
	if p := s.Properties["labels"]; p.Extensions["x-kubernetes-list-type"] != nil {
		t.Errorf("maps get no list type: %v", p.Extensions)
	}
	if d := g.defs["io.k8s.apimachinery.pkg.apis.meta.v1.Duration"]; d == nil || !d.Type.Contains("string") {
		t.Errorf("Duration = %+v", d)
	}
	if p := s.Properties["quantity"]; p.Default != nil {
		t.Errorf("a Quantity gets no {} default: %+v", p)
	}
	if p := s.Properties["any"]; len(p.Type) != 0 {
		t.Errorf("interface{} = %+v, want an empty schema", p)
	}
}

// The names we derive from package paths must agree with the names
// k8s.io/api declares, so that types without OpenAPIModelName still line up.
func TestDerivedNamesMatchUpstream(t *testing.T) {
	for _, v := range []any{corev1.Pod{}, corev1.Container{}, metav1.ObjectMeta{}, resource.Quantity{},
		intstr.IntOrString{}, metav1.Time{}} {
		typ := reflect.TypeOf(v)
		if got, want := nameFromPackage(typ.PkgPath(), typ.Name()), definitionName(typ); got != want {
			t.Errorf("%v: derived %q, upstream %q", typ, got, want)
		}
	}
}

// Every reference in every document must resolve inside that document.
func TestReferencesResolve(t *testing.T) {
	s := testSpec(t)
	check := func(doc string, body []byte, prefix string, defs map[string]json.RawMessage) {
		for _, part := range strings.Split(string(body), `"$ref":"`)[1:] {
			ref := part[:strings.IndexByte(part, '"')]
			if strings.HasPrefix(ref, "#/parameters/") {
				continue
			}
			if _, ok := defs[strings.TrimPrefix(ref, prefix)]; !ok {
				t.Errorf("%s: dangling reference %s", doc, ref)
			}
		}
	}
	var v2 struct {
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(s.v2JSON, &v2); err != nil {
		t.Fatal(err)
	}
	check("v2", s.v2JSON, flavorV2.refPrefix(), v2.Definitions)
	for key, d := range s.v3 {
		var v3 struct {
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(d.body, &v3); err != nil {
			t.Fatal(err)
		}
		check(key, d.body, flavorV3.refPrefix(), v3.Components.Schemas)
	}
}
