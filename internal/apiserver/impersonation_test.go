package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	"skiff/internal/auth"
)

// headerUser authenticates X-User (and comma-separated X-Groups), for tests.
type headerUser struct{}

func (headerUser) AuthenticateRequest(r *http.Request) (*auth.User, bool, error) {
	name := r.Header.Get("X-User")
	if name == "" {
		return nil, false, nil
	}
	var groups []string
	if g := r.Header.Get("X-Groups"); g != "" {
		groups = strings.Split(g, ",")
	}
	return &auth.User{Name: name, Groups: groups}, true, nil
}

// allowFunc authorizes with a function.
type allowFunc func(a auth.Attributes) bool

func (f allowFunc) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if f(a) {
		return auth.DecisionAllow, "", nil
	}
	return auth.DecisionNoOpinion, "", nil
}

func TestImpersonationAndReviews(t *testing.T) {
	policy := allowFunc(func(a auth.Attributes) bool {
		if a.ResourceRequest && a.Verb == "create" && strings.HasPrefix(a.Resource, "selfsubject") {
			return true // system:basic-user
		}
		switch a.User.Name {
		case "alice":
			return a.Verb == "impersonate" && ((a.Resource == "users" && a.Name == "bob") || (a.Resource == "groups" && a.Name == "devs") ||
				(a.Resource == "serviceaccounts" && a.Namespace == "ns") || (a.Resource == "userextras" && a.Subresource == "scopes"))
		case "bob":
			return a.Verb == "get" && a.Resource == "pods" && a.Namespace == "ns"
		}
		return false
	})
	s, err := New(Config{Authenticator: headerUser{}, Authorizer: policy})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	post := func(path, body string, headers map[string][]string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User", "alice")
		for k, vs := range headers {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	const ssr = `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	whoami := func(headers map[string][]string) authenticationv1.UserInfo {
		t.Helper()
		code, data := post("/apis/authentication.k8s.io/v1/selfsubjectreviews", ssr, headers)
		if code != http.StatusCreated {
			t.Fatalf("SelfSubjectReview: %d %s", code, data)
		}
		var out authenticationv1.SelfSubjectReview
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return out.Status.UserInfo
	}

	if u := whoami(nil); u.Username != "alice" {
		t.Fatalf("whoami = %+v", u)
	}
	u := whoami(map[string][]string{"Impersonate-User": {"bob"}, "Impersonate-Group": {"devs"}, "Impersonate-Extra-Scopes": {"a", "b"}})
	if u.Username != "bob" || !slices.Equal(u.Groups, []string{"devs", "system:authenticated"}) || !slices.Equal(u.Extra["scopes"], []string{"a", "b"}) {
		t.Fatalf("impersonated = %+v", u)
	}
	u = whoami(map[string][]string{"Impersonate-User": {"system:serviceaccount:ns:builder"}})
	if !slices.Equal(u.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"}) {
		t.Fatalf("service account groups = %v", u.Groups)
	}
	for _, tc := range []struct {
		headers map[string][]string
		code    int
		msg     string
	}{
		{map[string][]string{"Impersonate-User": {"carol"}}, 403, `users \"carol\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope`},
		{map[string][]string{"Impersonate-User": {"bob"}, "Impersonate-Group": {"system:masters"}}, 403, `groups \"system:masters\" is forbidden`},
		{map[string][]string{"Impersonate-User": {"system:serviceaccount:other:x"}}, 403, `cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"other\"`},
		{map[string][]string{"Impersonate-Uid": {"1"}}, 500, "without impersonating a user"},
	} {
		code, data := post("/apis/authentication.k8s.io/v1/selfsubjectreviews", ssr, tc.headers)
		if code != tc.code || !strings.Contains(string(data), tc.msg) {
			t.Errorf("%v: %d %s, want %d with %q", tc.headers, code, data, tc.code, tc.msg)
		}
	}

	// An access review answered for the impersonated user.
	code, data := post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
		`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"namespace":"ns","verb":"get","resource":"pods"}}}`,
		map[string][]string{"Impersonate-User": {"bob"}})
	var sar authorizationv1.SelfSubjectAccessReview
	if err := json.Unmarshal(data, &sar); code != http.StatusCreated || err != nil || !sar.Status.Allowed {
		t.Fatalf("SelfSubjectAccessReview: %d %s", code, data)
	}
	code, data = post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
		`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`, nil)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(data), "exactly one of nonResourceAttributes or resourceAttributes must be specified") {
		t.Fatalf("empty SelfSubjectAccessReview: %d %s", code, data)
	}
	code, data = post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
		`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"ns"}}`, nil)
	if code != http.StatusCreated || !strings.Contains(string(data), `"incomplete":true`) {
		t.Fatalf("SelfSubjectRulesReview without a rule resolver: %d %s", code, data)
	}
}
