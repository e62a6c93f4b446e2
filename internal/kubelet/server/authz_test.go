package server

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestRequestAttributes(t *testing.T) {
	for _, tc := range []struct{ method, path, verb, sub string }{
		{"GET", "/containerLogs/ns/p/c", "get", "proxy"},
		{"POST", "/exec/ns/p/c", "create", "proxy"},
		{"GET", "/stats/summary", "get", "stats"},
		{"GET", "/metrics/cadvisor", "get", "metrics"},
		{"GET", "/logs/syslog", "get", "log"},
		{"GET", "/spec", "get", "spec"},
		{"GET", "/statsfoo", "get", "proxy"},
		{"DELETE", "/healthz", "delete", "proxy"},
	} {
		a := RequestAttributes(httptest.NewRequest(tc.method, tc.path, nil), "u", []string{"g"}, "n1")
		if a.Verb != tc.verb || a.Subresource != tc.sub || a.Node != "n1" || a.User != "u" {
			t.Errorf("%s %s: %+v, want verb %s subresource %s", tc.method, tc.path, a, tc.verb, tc.sub)
		}
	}
}

func TestSubjectAccessReviewerAsksAndCaches(t *testing.T) {
	client := fake.NewClientset()
	var asked []authorizationv1.SubjectAccessReviewSpec
	client.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		sar := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		asked = append(asked, sar.Spec)
		sar.Status.Allowed = sar.Spec.User == "kube-apiserver-kubelet-client"
		if !sar.Status.Allowed {
			sar.Status.Reason = "no RBAC policy matched"
		}
		return true, sar, nil
	})
	now := time.Unix(1000, 0)
	s := &SubjectAccessReviewer{Client: client, now: func() time.Time { return now }}
	ctx := context.Background()
	api := Attributes{User: "kube-apiserver-kubelet-client", Verb: "create", Subresource: "proxy", Node: "n1"}
	alice := Attributes{User: "alice", Groups: []string{"devs"}, Verb: "get", Subresource: "proxy", Node: "n1"}
	if ok, _, err := s.Authorize(ctx, api); !ok || err != nil {
		t.Fatalf("api server: %v %v", ok, err)
	}
	if ok, reason, err := s.Authorize(ctx, alice); ok || err != nil || reason != "no RBAC policy matched" {
		t.Fatalf("alice: %v %q %v", ok, reason, err)
	}
	r := asked[0].ResourceAttributes
	if r.Resource != "nodes" || r.Subresource != "proxy" || r.Name != "n1" || r.Verb != "create" {
		t.Fatalf("asked %+v", r)
	}
	// Cached: allowed for 5 minutes, denied for 30 s.
	now = now.Add(time.Minute)
	_, _, _ = s.Authorize(ctx, api)
	_, _, _ = s.Authorize(ctx, alice)
	if len(asked) != 3 || asked[2].User != "alice" {
		t.Fatalf("after a minute asked %d times (%+v), want the API server's answer cached and alice's asked again", len(asked), asked)
	}
}
