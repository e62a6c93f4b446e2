package apiserver

import (
	"net/http/httptest"
	"testing"
)

func TestAuthzName(t *testing.T) {
	tests := []struct {
		url, verb, name, want string
	}{
		{"/api/v1/namespaces/d/secrets/s", "get", "s", "s"},
		{"/api/v1/namespaces/d/secrets?fieldSelector=metadata.name%3Ds", "list", "", "s"},
		{"/api/v1/namespaces/d/secrets?watch=1&fieldSelector=metadata.name%3Ds", "watch", "", "s"},
		{"/api/v1/namespaces/d/secrets?fieldSelector=metadata.name%21%3Ds", "list", "", ""},
		{"/api/v1/namespaces/d/secrets?fieldSelector=metadata.name%3Da%2Cmetadata.namespace%3Dd", "list", "", "a"},
		{"/api/v1/namespaces/d/secrets?fieldSelector=metadata.name%3D..", "list", "", ""},
		{"/api/v1/namespaces/d/secrets", "list", "", ""},
		{"/api/v1/namespaces/d/secrets?fieldSelector=metadata.name%3Ds", "deletecollection", "", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.url, nil)
		if got := authzName(r, &RequestInfo{Verb: tt.verb, Name: tt.name}); got != tt.want {
			t.Errorf("%s %s: got %q, want %q", tt.verb, tt.url, got, tt.want)
		}
	}
}
