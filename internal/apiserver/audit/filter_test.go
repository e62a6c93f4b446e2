package audit

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/internal/auth"
)

// testServer runs Filter around a chain like the API server's: a header "X-User" authenticates (none: 401),
// user "mallory" is forbidden, "/panic" panics, "watch" streams.
func testServer(t *testing.T, policy string) (*httptest.Server, func() []map[string]any) {
	t.Helper()
	p, err := ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "audit.log")
	a, err := New(Config{Policy: p, Log: LogConfig{Path: logPath}, Now: func() time.Time { return time.Unix(1700000000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get("X-User")
		if name == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
			return
		}
		SetUser(r.Context(), &auth.User{Name: name, Groups: []string{"g"}})
		if name == "mallory" {
			LogDecision(r.Context(), false, "")
			w.WriteHeader(403)
			return
		}
		LogDecision(r.Context(), true, "")
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/watch":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(`{"type":"ADDED"}`))
		default:
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"metadata":{"name":"x","managedFields":[{"manager":"m"}]},"data":{"k":"v"}}`))
		}
	})
	recovered := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { _ = recover() }()
		a.Filter(inner, func(r *http.Request) (Attributes, bool) {
			return Attributes{Verb: strings.ToLower(r.Method), Path: r.URL.Path}, r.URL.Path == "/watch"
		}).ServeHTTP(w, r)
	})
	srv := httptest.NewServer(recovered)
	t.Cleanup(srv.Close)
	read := func() []map[string]any {
		f, err := os.Open(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []map[string]any
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	return srv, read
}

func do(t *testing.T, srv *httptest.Server, method, path, user, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if user != "" {
		req.Header.Set("X-User", user)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestFilterStagesAndLevels(t *testing.T) {
	srv, read := testServer(t, `apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
  - level: RequestResponse
    users: [alice]
  - level: Metadata
`)
	resp := do(t, srv, "POST", "/obj", "alice", `{"metadata":{"name":"x"},"data":{"k":"v"}}`)
	id := resp.Header.Get(HeaderAuditID)
	do(t, srv, "POST", "/obj", "mallory", `{}`)
	do(t, srv, "GET", "/obj", "", "")
	do(t, srv, "GET", "/watch", "bob", "")
	do(t, srv, "GET", "/panic", "bob", "")

	evs := read()
	var got []string
	for _, ev := range evs {
		user, _ := ev["user"].(map[string]any)["username"].(string)
		got = append(got, user+" "+ev["stage"].(string)+" "+ev["level"].(string))
	}
	want := []string{
		"alice RequestReceived RequestResponse", "alice ResponseComplete RequestResponse",
		"mallory RequestReceived Metadata", "mallory ResponseComplete Metadata",
		" RequestReceived Metadata", " ResponseComplete Metadata",
		"bob RequestReceived Metadata", "bob ResponseStarted Metadata", "bob ResponseComplete Metadata",
		"bob RequestReceived Metadata", "bob Panic Metadata",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	create := evs[1]
	if create["auditID"] != id || id == "" {
		t.Fatalf("auditID %v, header %q", create["auditID"], id)
	}
	if create["requestObject"] == nil || create["responseObject"] == nil || strings.Contains(toString(create), "managedFields") {
		t.Fatalf("create event: %s", toString(create))
	}
	if _, ok := evs[0]["responseStatus"]; ok {
		t.Fatalf("RequestReceived has a response status: %s", toString(evs[0]))
	}
	if evs[3]["annotations"].(map[string]any)[AnnotationDecision] != "forbid" || evs[3]["responseStatus"].(map[string]any)["code"].(float64) != 403 {
		t.Fatalf("forbidden event: %s", toString(evs[3]))
	}
	if st := evs[5]["responseStatus"].(map[string]any); st["code"].(float64) != 401 || st["reason"] != "Unauthorized" {
		t.Fatalf("401 event: %s", toString(evs[5]))
	}
	if evs[8]["responseObject"] != nil || evs[2]["requestObject"] != nil {
		t.Fatal("bodies logged below their level")
	}
	if msg := evs[10]["responseStatus"].(map[string]any)["message"]; msg != "APIServer panic'd: boom" {
		t.Fatalf("panic event: %s", toString(evs[10]))
	}
	if evs[1]["stageTimestamp"] != "2023-11-14T22:13:20.000000Z" {
		t.Fatalf("timestamp format: %v", evs[1]["stageTimestamp"])
	}
}

func TestFilterWithoutPolicySetsAuditID(t *testing.T) {
	var a *Auditor
	h := a.Filter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(HeaderAuditID, "given-id")
	h.ServeHTTP(rec, req)
	if rec.Header().Get(HeaderAuditID) != "given-id" {
		t.Fatalf("Audit-ID %q", rec.Header().Get(HeaderAuditID))
	}
}

func toString(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// TestFilterHijack: an upgraded connection (exec, attach) still reaches the handler's Hijack, and its
// long-running request logs ResponseStarted with 101.
func TestFilterHijack(t *testing.T) {
	p, _ := ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n"))
	logPath := filepath.Join(t.TempDir(), "audit.log")
	a, err := New(Config{Policy: p, Log: LogConfig{Path: logPath}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Filter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetUser(r.Context(), &auth.User{Name: "u"})
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		_ = buf.Flush()
		conn.Close()
	}), func(*http.Request) (Attributes, bool) {
		return Attributes{Verb: "create", Resource: "pods", Subresource: "exec"}, true
	}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	srv.Close() // waits for the handler, so its events are written
	data, _ := os.ReadFile(logPath)
	if !strings.Contains(string(data), `"stage":"ResponseStarted"`) || !strings.Contains(string(data), `"code":101`) {
		t.Fatalf("log:\n%s", data)
	}
}
