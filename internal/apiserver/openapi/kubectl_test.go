package openapi

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	explainv2 "k8s.io/kubectl/pkg/explain/v2"
	kubectlopenapi "k8s.io/kubectl/pkg/util/openapi"
	"k8s.io/kubectl/pkg/validation"
)

var (
	podGVK        = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
)

// discoveryFor serves the spec over HTTP and returns the discovery client
// kubectl would use against it.
func discoveryFor(t *testing.T) *discovery.DiscoveryClient {
	t.Helper()
	srv := httptest.NewServer(testSpec(t).Handler())
	t.Cleanup(srv.Close)
	return discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: srv.URL})
}

// kubectl decides that the server validates fields itself (and skips its
// own validation) by finding fieldValidation on the kind's PATCH operation:
// first in the v3 document, then, as a fallback, in v2.
func TestKubectlDetectsFieldValidation(t *testing.T) {
	dc := discoveryFor(t)
	v3 := resource.NewQueryParamVerifierV3(nil, dc.OpenAPIV3(), resource.QueryParamFieldValidation)
	v2 := resource.NewQueryParamVerifier(nil, dc, resource.QueryParamFieldValidation)
	for _, gvk := range []schema.GroupVersionKind{podGVK, deploymentGVK,
		{Version: "v1", Kind: "Namespace"}, {Group: "batch", Version: "v1", Kind: "CronJob"}} {
		if err := v3.HasSupport(gvk); err != nil {
			t.Errorf("v3 verifier, %v: %v", gvk, err)
		}
		if err := v2.HasSupport(gvk); err != nil {
			t.Errorf("v2 verifier, %v: %v", gvk, err)
		}
	}
	root := openapi3.NewRoot(dc.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil || len(gvs) < 5 {
		t.Fatalf("GroupVersions = %v, %v", gvs, err)
	}
}

func TestKubectlExplain(t *testing.T) {
	dc := discoveryFor(t)
	var out bytes.Buffer
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	if err := explainv2.PrintModelDescription([]string{"spec", "containers"}, &out, dc.OpenAPIV3(), gvr,
		false, 0, "plaintext"); err != nil {
		t.Fatalf("explain pod.spec.containers: %v", err)
	}
	got := out.String()
	for _, want := range []string{"KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>",
		"name\t<string> -required-", "image\t<string>\n", "DESCRIPTION:"} {
		if !strings.Contains(got, want) {
			t.Errorf("explain output lacks %q:\n%s", want, got)
		}
	}
	out.Reset()
	gvr = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	if err := explainv2.PrintModelDescription(nil, &out, dc.OpenAPIV3(), gvr, true, 3, "plaintext"); err != nil {
		t.Fatalf("explain --recursive deployments: %v", err)
	}
	if !strings.Contains(out.String(), "GROUP:      apps") || !strings.Contains(out.String(), "selector") {
		t.Errorf("explain deployments:\n%s", out.String())
	}
}

// When fieldValidation is not detected, kubectl validates client-side
// against the v2 document, and kubectl apply reads patch metadata from it.
func TestKubectlV2Consumers(t *testing.T) {
	dc := discoveryFor(t)
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema (protobuf): %v", err)
	}
	resources, err := kubectlopenapi.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("NewOpenAPIData: %v", err)
	}
	if resources.LookupResource(podGVK) == nil {
		t.Fatal("kubectl cannot find Pod in the v2 document")
	}
	consumes := strings.Join(resources.GetConsumes(deploymentGVK, "PATCH"), ",")
	if !strings.Contains(consumes, "application/strategic-merge-patch+json") {
		t.Errorf("PATCH consumes %q", consumes)
	}

	v := validation.NewSchemaValidation(getter{resources})
	good := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
		"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80}],
		"resources":{"limits":{"cpu":"100m","memory":1024}}}]}}`
	if err := v.ValidateBytes([]byte(good)); err != nil {
		t.Errorf("valid pod rejected: %v", err)
	}
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
		"spec":{"selector":{"matchLabels":{"a":"b"}},"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},
		"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`
	if err := v.ValidateBytes([]byte(deploy)); err != nil {
		t.Errorf("valid deployment rejected: %v", err)
	}
	bad := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"image":"x","bogus":1}]}}`
	err = v.ValidateBytes([]byte(bad))
	if err == nil || !strings.Contains(err.Error(), "bogus") || !strings.Contains(err.Error(), `"name"`) {
		t.Errorf("invalid pod: %v", err)
	}
}

type getter struct{ r kubectlopenapi.Resources }

func (g getter) OpenAPISchema() (kubectlopenapi.Resources, error) { return g.r, nil }

// kubectl apply computes strategic merge patches from the v3 schemas.
func TestStrategicMergeFromV3(t *testing.T) {
	defs := testSpec(t).Schemas()
	meta := strategicpatch.PatchMetaFromOpenAPIV3{Schema: defs[deploymentDef], SchemaList: defs}
	original := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1"}]}}}}`)
	modified := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:2"},{"name":"b","image":"b"}]}}}}`)
	current := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1"}]}}}}`)
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patch), "$setElementOrder/containers") {
		t.Errorf("patch does not merge containers by name: %s", patch)
	}
}
