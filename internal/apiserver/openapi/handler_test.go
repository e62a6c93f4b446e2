package openapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, target string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	testSpec(t).Handler().ServeHTTP(rec, req)
	return rec
}

func TestHandlerV2(t *testing.T) {
	s := testSpec(t)
	rec := get(t, "/openapi/v2")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" ||
		!bytes.Equal(rec.Body.Bytes(), s.v2JSON) {
		t.Fatalf("default v2: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	etag := rec.Header().Get("Etag")
	for _, accept := range []string{
		"application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
		"application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
		"application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json;q=0.5",
	} {
		rec := get(t, "/openapi/v2", "Accept", accept)
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), s.v2Proto) ||
			rec.Header().Get("Content-Type") != "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" {
			t.Errorf("Accept %q: %d %q", accept, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	if rec := get(t, "/openapi/v2", "Accept", "application/json, */*;q=0.1"); !bytes.Equal(rec.Body.Bytes(), s.v2JSON) {
		t.Error("Accept application/json did not get JSON")
	}
	if rec := get(t, "/openapi/v2", "Accept", "text/html"); rec.Code != http.StatusNotAcceptable {
		t.Errorf("Accept text/html: %d", rec.Code)
	}
	if rec := get(t, "/openapi/v2", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", rec.Code)
	}
	rec = get(t, "/openapi/v2", "Accept-Encoding", "gzip")
	zr, err := gzip.NewReader(rec.Body)
	if err != nil || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: %v %q", err, rec.Header().Get("Content-Encoding"))
	}
	if body, _ := io.ReadAll(zr); !bytes.Equal(body, s.v2JSON) {
		t.Error("gzipped body differs")
	}
}

func TestHandlerV3(t *testing.T) {
	s := testSpec(t)
	rec := get(t, "/openapi/v3")
	var index indexDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &index); err != nil || rec.Code != 200 {
		t.Fatalf("index: %d %v", rec.Code, err)
	}
	for _, key := range []string{"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/rbac.authorization.k8s.io/v1"} {
		e, ok := index.Paths[key]
		if !ok || e.ServerRelativeURL != "/openapi/v3/"+key+"?hash="+s.v3[key].etag {
			t.Errorf("index entry %s = %+v", key, e)
		}
	}
	if _, ok := index.Paths["apis/autoscaling/v1"]; ok {
		t.Error("autoscaling/v1 serves no resource but has a document")
	}

	url := index.Paths["apis/apps/v1"].ServerRelativeURL
	rec = get(t, url, "Accept", "application/json")
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), s.v3["apis/apps/v1"].body) {
		t.Fatalf("GET %s: %d", url, rec.Code)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, immutable" || rec.Header().Get("Expires") == "" {
		t.Errorf("hashed URL Cache-Control %q Expires %q", cc, rec.Header().Get("Expires"))
	}
	etag := rec.Header().Get("Etag")
	if etag != `"`+s.v3["apis/apps/v1"].etag+`"` {
		t.Errorf("Etag %q", etag)
	}

	rec = get(t, "/openapi/v3/apis/apps/v1")
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "" {
		t.Errorf("unhashed: %d Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	if rec := get(t, "/openapi/v3/apis/apps/v1", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", rec.Code)
	}
	rec = get(t, "/openapi/v3/apis/apps/v1?hash=stale")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != url {
		t.Errorf("stale hash: %d Location %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(t, "/openapi/v3/apis/apps/v1", "Accept", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"); rec.Code != http.StatusNotAcceptable {
		t.Errorf("v3 protobuf: %d", rec.Code)
	}
}

func TestHandlerUnknown(t *testing.T) {
	for _, p := range []string{"/openapi", "/openapi/v3/apis/nope/v1", "/openapi/v3/", "/openapi/v4", "/openapi/v2/x",
		"/openapi/v3/apis/apps"} {
		if rec := get(t, p); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/openapi/v2", strings.NewReader("{}"))
	rec := httptest.NewRecorder()
	testSpec(t).Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}
