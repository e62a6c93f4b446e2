package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestEndpoints(t *testing.T) {
	exits := make(chan int, 1)
	ts := httptest.NewServer(newServer(exits, nil))
	defer ts.Close()
	host, _ := os.Hostname()
	t.Setenv("TESTSERVER_VAR", "x")

	steps := []struct {
		method, path string
		code         int
		body         string // expected body, or a substring when prefixed by "~"
	}{
		{"GET", "/", 200, host},
		{"GET", "/hostname", 200, host},
		{"GET", "/nope", 404, "~not found"},
		{"GET", "/healthz", 200, "ok"},
		{"POST", "/healthz/fail", 200, "healthz now failing"},
		{"GET", "/healthz", 500, "failing\n"},
		{"POST", "/healthz/ok", 200, "healthz now ok"},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/echo?msg=hello+world", 200, "hello world"},
		{"GET", "/alloc?mb=2", 200, "allocated 2 MiB, holding 2 MiB"},
		{"GET", "/alloc?mb=x", 400, "~positive"},
		{"GET", "/env", 200, "~TESTSERVER_VAR=x\n"},
		{"GET", "/exit?code=300", 400, "~0..255"},
		{"GET", "/exit?code=3", 200, "exiting with code 3"},
	}
	for _, s := range steps {
		req, _ := http.NewRequest(s.method, ts.URL+s.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		ok := body == s.body
		if want, sub := strings.CutPrefix(s.body, "~"); sub {
			ok = strings.Contains(body, want)
		}
		if resp.StatusCode != s.code || !ok {
			t.Errorf("%s %s = %d %q, want %d %q", s.method, s.path, resp.StatusCode, body, s.code, s.body)
		}
	}
	select {
	case code := <-exits:
		if code != 3 {
			t.Errorf("exit code %d, want 3", code)
		}
	default:
		t.Error("/exit did not request an exit")
	}
}
