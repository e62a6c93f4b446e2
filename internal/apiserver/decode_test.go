package apiserver

import (
	"net/http"
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

var podGVK = corev1.SchemeGroupVersion.WithKind("Pod")

func newPod() runtime.Object { return &corev1.Pod{} }

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, body, mode string
		code             int32 // 0: success
		warnings         int
	}{
		{"valid", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}`, "Strict", 0, 0},
		{"no type meta", `{"metadata":{"name":"a"}}`, "Strict", 0, 0},
		{"malformed", `{"apiVersion":"v1",`, "Strict", 400, 0},
		{"empty", ``, "Strict", 400, 0},
		{"wrong kind", `{"apiVersion":"v1","kind":"Secret"}`, "Strict", 400, 0},
		{"wrong version", `{"apiVersion":"apps/v1","kind":"Pod"}`, "Strict", 400, 0},
		{"unknown field strict", `{"apiVersion":"v1","kind":"Pod","spec":{"bogus":1}}`, "Strict", 400, 0},
		{"unknown field warn", `{"apiVersion":"v1","kind":"Pod","spec":{"bogus":1}}`, "Warn", 0, 1},
		{"unknown field ignore", `{"apiVersion":"v1","kind":"Pod","spec":{"bogus":1}}`, "Ignore", 0, 0},
		{"duplicate field strict", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"}}`, "Strict", 400, 0},
		{"wrong type", `{"apiVersion":"v1","kind":"Pod","spec":{"containers":"x"}}`, "Strict", 400, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj, warns, err := decodeJSON([]byte(tc.body), podGVK, newPod, tc.mode)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if _, ok := obj.(*corev1.Pod); !ok {
					t.Fatalf("decoded %T", obj)
				}
				if len(warns) != tc.warnings {
					t.Fatalf("warnings %v, want %d", warns, tc.warnings)
				}
				return
			}
			var st apierrors.APIStatus
			if err == nil {
				t.Fatal("expected an error")
			}
			st, ok := err.(apierrors.APIStatus)
			if !ok || st.Status().Code != tc.code {
				t.Fatalf("error %v, want code %d", err, tc.code)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bodies through the request decode path (JSON and YAML, every validation mode): it
// must never panic, and must either fail with a 4xx status or produce a Pod.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"i"}]}}`), "application/json", "Strict")
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n"), "application/yaml", "Warn")
	f.Add([]byte(`{"kind":"Pod","spec":{"containers":[{"ports":[{"containerPort":"x"}]}]}}`), "application/json", "Ignore")
	f.Fuzz(func(t *testing.T, body []byte, contentType, mode string) {
		s := &Server{}
		r := &http.Request{Header: http.Header{"Content-Type": {contentType}}, URL: &url.URL{RawQuery: url.Values{"fieldValidation": {mode}}.Encode()}}
		obj, _, err := s.decodeObject(r, body, podGVK, newPod)
		if err != nil {
			st, ok := err.(apierrors.APIStatus)
			if !ok || st.Status().Code < 400 || st.Status().Code >= 500 {
				t.Fatalf("decode error is not a 4xx status: %v", err)
			}
			return
		}
		if _, ok := obj.(*corev1.Pod); !ok {
			t.Fatalf("decoded %T", obj)
		}
	})
}
