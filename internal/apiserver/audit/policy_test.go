package audit

import (
	"strings"
	"testing"

	"skiff/internal/auth"
)

const testPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: [watch]
  - level: None
    userGroups: ["system:nodes"]
    nonResourceURLs: ["/healthz*", /version]
  - level: Metadata
    resources: [{group: "", resources: [secrets, configmaps]}]
    omitStages: [ResponseStarted]
  - level: Request
    namespaces: [kube-system]
  - level: RequestResponse
    resources: [{group: apps, resources: ["deployments/*"]}, {group: "", resources: ["*/status"]}]
    omitManagedFields: false
  - level: Request
    resources: [{group: "", resources: [pods], resourceNames: [special]}]
  - level: Metadata
    nonResourceURLs: ["*"]
omitManagedFields: true
`

func TestPolicyEvaluate(t *testing.T) {
	p, err := ParsePolicy([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	alice := &auth.User{Name: "alice", Groups: []string{"devs"}}
	node := &auth.User{Name: "system:node:a", Groups: []string{"system:nodes"}}
	res := func(u *auth.User, verb, group, ns, resource, sub, name string) Attributes {
		return Attributes{User: u, Verb: verb, ResourceRequest: true, APIGroup: group, Namespace: ns, Resource: resource, Subresource: sub, Name: name}
	}
	for _, tc := range []struct {
		name string
		a    Attributes
		want Level
	}{
		{"proxy watch", res(&auth.User{Name: "system:kube-proxy"}, "watch", "", "", "services", "", ""), LevelNone},
		{"proxy list falls through", res(&auth.User{Name: "system:kube-proxy"}, "list", "", "", "services", "", ""), LevelNone},
		{"node health", Attributes{User: node, Verb: "get", Path: "/healthz/etcd"}, LevelNone},
		{"alice health", Attributes{User: alice, Verb: "get", Path: "/healthz"}, LevelMetadata},
		{"unauthenticated", Attributes{Verb: "get", Path: "/api"}, LevelMetadata},
		{"secret", res(alice, "get", "", "default", "secrets", "", "s"), LevelMetadata},
		{"secret in kube-system", res(alice, "get", "", "kube-system", "secrets", "", "s"), LevelMetadata},
		{"kube-system pod", res(alice, "get", "", "kube-system", "pods", "", "p"), LevelRequest},
		{"deployment itself", res(alice, "update", "apps", "default", "deployments", "", "d"), LevelRequestResponse},
		{"deployment scale", res(alice, "update", "apps", "default", "deployments", "scale", "d"), LevelRequestResponse},
		{"pod status", res(alice, "patch", "", "default", "pods", "status", "p"), LevelRequestResponse},
		{"named pod", res(alice, "get", "", "default", "pods", "", "special"), LevelRequest},
		{"other pod", res(alice, "get", "", "default", "pods", "", "other"), LevelNone},
		{"pod log (resource is pods only)", res(alice, "get", "", "default", "pods", "log", "special"), LevelNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Evaluate(tc.a).Level; got != tc.want {
				t.Fatalf("level %s, want %s", got, tc.want)
			}
		})
	}
	d := p.Evaluate(res(alice, "get", "", "default", "secrets", "", "s"))
	if strings.Join(stageNames(d.OmitStages), ",") != "RequestReceived,ResponseStarted" || !d.OmitManagedFields {
		t.Fatalf("decision %+v", d)
	}
	if d := p.Evaluate(res(alice, "update", "apps", "default", "deployments", "", "d")); d.OmitManagedFields {
		t.Fatal("the rule's omitManagedFields: false did not win")
	}
	if p.MaxLevel() != LevelRequestResponse {
		t.Fatal(p.MaxLevel())
	}
}

func stageNames(s []Stage) []string {
	var out []string
	for _, x := range s {
		out = append(out, string(x))
	}
	return out
}

func TestPolicyRefused(t *testing.T) {
	head := "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
	for name, tc := range map[string]struct{ yaml, want string }{
		"no rules":   {head + "rules: []", "0 rules"},
		"bad level":  {head + "rules: [{level: Loud}]", "Unsupported value: \"Loud\""},
		"no level":   {head + "rules: [{verbs: [get]}]", "level: Required"},
		"bad stage":  {head + "omitStages: [Done]\nrules: [{level: None}]", "omitStages[0]"},
		"both kinds": {head + "rules: [{level: None, nonResourceURLs: [/x], namespaces: [a]}]", "both"},
		"wrong kind": {"apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]", "audit.k8s.io/v1"},
		"typo":       {head + "rules: [{level: None, user: [a]}]", "unknown field"},
		"bad url":    {head + "rules: [{level: None, nonResourceURLs: [\"/a*b\"]}]", "nonResourceURLs[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePolicy([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestReadmePolicy: the sample policy in README.md (copied into testdata) loads and keeps Secrets at Metadata.
func TestReadmePolicy(t *testing.T) {
	p, err := LoadPolicy("testdata/readme-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secretWrite := Attributes{User: &auth.User{Name: "alice"}, Verb: "update", ResourceRequest: true, Resource: "secrets", Namespace: "a", Name: "s"}
	if l := p.Evaluate(secretWrite).Level; l != LevelMetadata {
		t.Fatalf("secret update logged at %s", l)
	}
	tokenReq := Attributes{User: &auth.User{Name: "alice"}, Verb: "create", ResourceRequest: true, Resource: "serviceaccounts", Subresource: "token", Namespace: "a", Name: "sa"}
	if l := p.Evaluate(tokenReq).Level; l != LevelMetadata {
		t.Fatalf("token request logged at %s", l)
	}
}
