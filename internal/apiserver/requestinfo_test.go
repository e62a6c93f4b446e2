package apiserver

import (
	"net/http/httptest"
	"testing"
)

func TestParseRequestInfo(t *testing.T) {
	tests := []struct {
		method, path                                string
		verb, group, version, ns, res, name, subres string
		resource                                    bool
	}{
		{"GET", "/api/v1/namespaces/default/pods", "list", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods?watch=true", "watch", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/watch/namespaces/default/pods", "watch", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", true},
		{"POST", "/apis/apps/v1/namespaces/x/deployments", "create", "apps", "v1", "x", "deployments", "", "", true},
		{"PATCH", "/apis/apps/v1/namespaces/x/deployments/web/scale", "patch", "apps", "v1", "x", "deployments", "web", "scale", true},
		{"DELETE", "/api/v1/namespaces/x/configmaps", "deletecollection", "", "v1", "x", "configmaps", "", "", true},
		{"GET", "/api/v1/namespaces/x", "get", "", "v1", "x", "namespaces", "x", "", true},
		{"PUT", "/api/v1/namespaces/x/finalize", "update", "", "v1", "x", "namespaces", "x", "finalize", true},
		{"GET", "/api/v1/nodes/n1/status", "get", "", "v1", "", "nodes", "n1", "status", true},
		{"GET", "/healthz", "get", "", "", "", "", "", "", false},
		{"GET", "/apis/apps", "get", "apps", "", "", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			ri := parseRequestInfo(httptest.NewRequest(tc.method, tc.path, nil))
			if ri.IsResourceRequest != tc.resource || ri.Verb != tc.verb || ri.APIGroup != tc.group || ri.APIVersion != tc.version ||
				ri.Namespace != tc.ns || ri.Resource != tc.res || ri.Name != tc.name || ri.Subresource != tc.subres {
				t.Fatalf("got %+v", ri)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	s, _ := testServer(t)
	tests := []struct {
		accept, mediaType, as string
		fail                  bool
	}{
		{"", "application/json", "", false},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json", "application/json", "Table", false},
		{"application/yaml", "application/yaml", "", false},
		{"application/vnd.kubernetes.protobuf", "application/vnd.kubernetes.protobuf", "", false},
		{"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", "", "", true},
		{"text/html", "", "", true},
		{"application/json;as=Bogus;v=v1;g=meta.k8s.io, */*", "application/json", "", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		r.Header.Set("Accept", tc.accept)
		out, err := negotiate(s.codecs, r, "Table")
		if tc.fail {
			if err == nil {
				t.Fatalf("%q: negotiated %s", tc.accept, out.info.MediaType)
			}
			continue
		}
		if err != nil || out.info.MediaType != tc.mediaType || out.as != tc.as {
			t.Fatalf("%q: got %q as=%q err=%v", tc.accept, out.info.MediaType, out.as, err)
		}
	}
}
