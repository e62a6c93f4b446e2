package authnconfig

import (
	"strings"
	"testing"
)

const valid = `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://issuer.example.com
    audiences: [skiff, other]
    audienceMatchPolicy: MatchAny
    certificateAuthority: |
      -----BEGIN CERTIFICATE-----
  claimValidationRules:
  - claim: hd
    requiredValue: example.com
  claimMappings:
    username: {claim: email, prefix: ""}
    groups: {claim: groups, prefix: "oidc:"}
    uid: {claim: sub}
- issuer:
    url: https://second.example.com
    discoveryURL: https://discovery.internal/.well-known/openid-configuration
    audiences: [skiff]
  claimMappings:
    username: {claim: sub, prefix: "second:"}
anonymous:
  enabled: true
  conditions:
  - path: /livez
  - path: /readyz
`

func TestParse(t *testing.T) {
	c, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.JWT) != 2 {
		t.Fatalf("%d issuers", len(c.JWT))
	}
	a, b := c.JWT[0], c.JWT[1]
	if a.UsernameClaim != "email" || a.UsernamePrefix != "" || a.GroupsPrefix != "oidc:" || a.UIDClaim != "sub" ||
		a.RequiredClaims["hd"] != "example.com" || len(a.Audiences) != 2 || !strings.Contains(string(a.CAPEM), "BEGIN") {
		t.Fatalf("first issuer: %+v", a)
	}
	if b.DiscoveryURL == "" || b.UsernamePrefix != "second:" {
		t.Fatalf("second issuer: %+v", b)
	}
	if c.Anonymous == nil || !c.Anonymous.Enabled || len(c.Anonymous.Conditions) != 2 {
		t.Fatalf("anonymous: %+v", c.Anonymous)
	}
}

func TestParseErrors(t *testing.T) {
	head := "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\n"
	jwt := func(issuer, mappings string) string {
		return head + "jwt:\n- issuer: {" + issuer + "}\n  claimMappings: {" + mappings + "}\n"
	}
	okIssuer := `url: "https://i.example.com", audiences: [a]`
	okUser := `username: {claim: sub, prefix: ""}`
	cases := map[string]string{
		"wrong kind":               "apiVersion: apiserver.config.k8s.io/v1\nkind: Other\n",
		"wrong version":            "apiVersion: v1\nkind: AuthenticationConfiguration\n",
		"unknown field":            head + "bogus: 1\n",
		"http issuer":              jwt(`url: "http://i.example.com", audiences: [a]`, okUser),
		"no audience":              jwt(`url: "https://i.example.com"`, okUser),
		"two audiences, no policy": jwt(`url: "https://i.example.com", audiences: [a, b]`, okUser),
		"discovery equals url":     jwt(`url: "https://i.example.com", discoveryURL: "https://i.example.com", audiences: [a]`, okUser),
		"username without prefix":  jwt(okIssuer, `username: {claim: sub}`),
		"no username claim":        jwt(okIssuer, `username: {prefix: ""}`),
		"groups without prefix":    jwt(okIssuer, okUser+`, groups: {claim: g}`),
		"CEL username":             jwt(okIssuer, `username: {expression: "claims.sub"}`),
		"extra":                    jwt(okIssuer, okUser+`, extra: [{key: "example.com/x", valueExpression: "'y'"}]`),
		"duplicate issuer":         jwt(okIssuer, okUser) + "- issuer: {" + okIssuer + "}\n  claimMappings: {" + okUser + "}\n",
		"conditions while off":     head + "anonymous: {enabled: false, conditions: [{path: /livez}]}\n",
	}
	for name, in := range cases {
		_, err := Parse([]byte(in))
		if err == nil {
			t.Errorf("%s: accepted:\n%s", name, in)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt: [{}]\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = Parse(in)
	})
}
