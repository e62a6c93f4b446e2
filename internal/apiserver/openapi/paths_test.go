package openapi

import (
	"encoding/json"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/spec3"
)

func v3Doc(t *testing.T, key string) *spec3.OpenAPI {
	t.Helper()
	d, ok := testSpec(t).v3[key]
	if !ok {
		t.Fatalf("no v3 document %q", key)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(d.body, &doc); err != nil {
		t.Fatalf("v3 %s does not parse as spec3: %v", key, err)
	}
	return &doc
}

func TestAppsV3PatchHasFieldValidation(t *testing.T) {
	doc := v3Doc(t, "apis/apps/v1")
	item := doc.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
	if item == nil || item.Patch == nil {
		t.Fatal("no PATCH on the deployment item path")
	}
	op := item.Patch
	if op.OperationId != "patchAppsV1NamespacedDeployment" {
		t.Errorf("operationId = %q", op.OperationId)
	}
	var names []string
	for _, p := range op.Parameters {
		if p.In == "query" {
			names = append(names, p.Name)
		}
	}
	for _, want := range []string{"dryRun", "fieldManager", "fieldValidation", "force"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("PATCH query parameters %v lack %s", names, want)
		}
	}
	if op.Extensions["x-kubernetes-action"] != "patch" {
		t.Errorf("x-kubernetes-action = %v", op.Extensions["x-kubernetes-action"])
	}
	var gvk map[string]string
	if err := op.Extensions.GetObject(gvkExtension, &gvk); err != nil || gvk["kind"] != "Deployment" ||
		gvk["group"] != "apps" || gvk["version"] != "v1" {
		t.Errorf("gvk = %v (%v)", gvk, err)
	}
	for _, mt := range patchMediaTypes {
		if op.RequestBody == nil || op.RequestBody.Content[mt] == nil {
			t.Errorf("PATCH body lacks %s", mt)
		}
	}
	if doc.Components.Schemas[deploymentDef] == nil {
		t.Error("apps/v1 document lacks the Deployment schema")
	}
	if doc.Components.Schemas[podDef] != nil {
		t.Error("apps/v1 document carries Pod, which none of its paths use")
	}
	scale := doc.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
	if scale == nil || scale.Put == nil || scale.Put.OperationId != "replaceAppsV1NamespacedDeploymentScale" {
		t.Fatalf("scale subresource path: %+v", scale)
	}
	if doc.Components.Schemas["io.k8s.api.autoscaling.v1.Scale"] == nil {
		t.Error("apps/v1 document lacks autoscaling/v1 Scale")
	}
}

func TestOperationIDs(t *testing.T) {
	want := map[string]map[string]string{
		"api/v1": {
			"/api/v1/namespaces/{namespace}/pods get":                  "listCoreV1NamespacedPod",
			"/api/v1/namespaces/{namespace}/pods post":                 "createCoreV1NamespacedPod",
			"/api/v1/namespaces/{namespace}/pods delete":               "deleteCoreV1CollectionNamespacedPod",
			"/api/v1/pods get":                                         "listCoreV1PodForAllNamespaces",
			"/api/v1/namespaces/{namespace}/pods/{name} get":           "readCoreV1NamespacedPod",
			"/api/v1/namespaces/{namespace}/pods/{name}/status patch":  "patchCoreV1NamespacedPodStatus",
			"/api/v1/namespaces/{namespace}/pods/{name}/binding post":  "createCoreV1NamespacedPodBinding",
			"/api/v1/namespaces/{namespace}/pods/{name}/eviction post": "createCoreV1NamespacedPodEviction",
			"/api/v1/namespaces/{namespace}/pods/{name}/log get":       "readCoreV1NamespacedPodLog",
			"/api/v1/watch/namespaces/{namespace}/pods get":            "watchCoreV1NamespacedPodList",
			"/api/v1/watch/namespaces/{namespace}/pods/{name} get":     "watchCoreV1NamespacedPod",
			"/api/v1/watch/pods get":                                   "watchCoreV1PodListForAllNamespaces",
			"/api/v1/nodes get":                                        "listCoreV1Node",
			"/api/v1/nodes/{name} put":                                 "replaceCoreV1Node",
			"/api/v1/nodes delete":                                     "deleteCoreV1CollectionNode",
			"/api/v1/ get":                                             "getCoreV1APIResources",
		},
		"apis/rbac.authorization.k8s.io/v1": {
			"/apis/rbac.authorization.k8s.io/v1/clusterroles get": "listRbacAuthorizationV1ClusterRole",
		},
		"apis/flowcontrol.apiserver.k8s.io/v1": {
			"/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/{name}/status get": "readFlowcontrolApiserverV1FlowSchemaStatus",
		},
	}
	for key, ops := range want {
		doc := v3Doc(t, key)
		for where, id := range ops {
			var path, method string
			for i := len(where) - 1; i >= 0; i-- {
				if where[i] == ' ' {
					path, method = where[:i], where[i+1:]
					break
				}
			}
			item := doc.Paths.Paths[path]
			if item == nil {
				t.Errorf("%s: no path %s", key, path)
				continue
			}
			op := map[string]*spec3.Operation{"get": item.Get, "put": item.Put, "post": item.Post,
				"patch": item.Patch, "delete": item.Delete}[method]
			if op == nil || op.OperationId != id {
				t.Errorf("%s %s: got %+v, want operationId %s", method, path, op, id)
			}
		}
	}
	// Exec has no documented shape and is left out.
	if v3Doc(t, "api/v1").Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"] != nil {
		t.Error("exec should not be documented")
	}
}

func TestNewRejectsUnknownKinds(t *testing.T) {
	r := res("example.com", "v1", "Widget", "widgets", true)
	if _, err := New(scheme.Scheme, []Resource{r}, "v1.37.2"); err == nil {
		t.Fatal("New accepted a kind the scheme does not know")
	}
	// Verbs decide which operations exist.
	ro := res("", "v1", "ConfigMap", "configmaps", true)
	ro.Verbs = []string{"get", "list"}
	s, err := New(scheme.Scheme, []Resource{ro}, "v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(s.v3["api/v1"].body, &doc); err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Paths["/api/v1/namespaces/{namespace}/configmaps/{name}"]
	if item == nil || item.Get == nil || item.Patch != nil || item.Delete != nil {
		t.Errorf("read-only configmaps: %+v", item)
	}
	if doc.Paths.Paths["/api/v1/watch/configmaps"] != nil {
		t.Error("watch paths without the watch verb")
	}
}
