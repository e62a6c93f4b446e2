package authnconfig

import (
	"context"
	"strings"
	"testing"
	"time"

	"skiff/internal/auth/oidc"
	"skiff/internal/auth/oidc/oidctest"
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

const celValid = `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://issuer.example.com
    audiences: [skiff]
  claimValidationRules:
  - expression: "claims.?email_verified.orValue(true) == true"
    message: email must be verified
  - claim: hd
    requiredValue: example.com
  claimMappings:
    username: {expression: "'oidc:' + claims.email"}
    groups: {expression: "claims.roles.map(r, 'role:' + r)"}
    uid: {expression: "claims.sub"}
    extra:
    - key: example.com/tenant
      valueExpression: "claims.tenant"
    - key: example.com/scopes
      valueExpression: "has(claims.scp) ? claims.scp.split(' ') : []"
  userValidationRules:
  - expression: "!user.username.startsWith('system:')"
    message: username cannot use the reserved system prefix
  - expression: "user.groups.all(g, !g.startsWith('system:'))"
`

func TestParseCEL(t *testing.T) {
	c, err := Parse([]byte(celValid))
	if err != nil {
		t.Fatal(err)
	}
	o := c.JWT[0]
	if o.UsernameExpression == nil || o.UsernameClaim != "" || o.GroupsExpression == nil || o.UIDExpression == nil ||
		len(o.Extra) != 2 || o.Extra[1].Key != "example.com/scopes" || len(o.ClaimValidationRules) != 1 ||
		o.ClaimValidationRules[0].Message != "email must be verified" || o.RequiredClaims["hd"] != "example.com" ||
		len(o.UserValidationRules) != 2 {
		t.Fatalf("options: %+v", o)
	}
}

// TestParseCELErrors: each bad expression or mapping stops the load with an error naming the field.
func TestParseCELErrors(t *testing.T) {
	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer: {url: \"https://i.example.com\", audiences: [a]}\n"
	okUser := `username: {claim: sub, prefix: ""}`
	mappings := func(m string) string { return head + "  claimMappings: {" + m + "}\n" }
	withRules := func(rules string) string { return mappings(okUser) + rules }
	cases := []struct{ name, in, want string }{
		{"username does not compile", mappings(`username: {expression: "claims.sub +"}`),
			"jwt[0].claimMappings.username.expression: compilation failed: "},
		{"username not a string", mappings(`username: {expression: "1 + 2"}`),
			"jwt[0].claimMappings.username.expression: must evaluate to string"},
		{"username claim and expression", mappings(`username: {claim: sub, expression: "claims.sub"}`),
			"jwt[0].claimMappings.username: claim and expression can't both be set"},
		{"username expression with prefix", mappings(`username: {expression: "claims.sub", prefix: "p:"}`),
			"jwt[0].claimMappings.username.prefix: may not be specified when expression is set"},
		{"no username", mappings(`groups: {expression: "claims.g"}`),
			"jwt[0].claimMappings.username: Required value"},
		{"unknown variable", mappings(`username: {expression: "user.username"}`),
			"jwt[0].claimMappings.username.expression: compilation failed: "},
		{"groups a map", mappings(okUser + `, groups: {expression: "{'a': 'b'}"}`),
			"jwt[0].claimMappings.groups.expression: must evaluate to a string or a list of strings"},
		{"groups list of ints", mappings(okUser + `, groups: {expression: "[1, 2]"}`),
			"jwt[0].claimMappings.groups.expression: must evaluate to a string or a list of strings"},
		{"uid claim and expression", mappings(okUser + `, uid: {claim: sub, expression: "claims.sub"}`),
			"jwt[0].claimMappings.uid: claim and expression can't both be set"},
		{"uid a bool", mappings(okUser + `, uid: {expression: "true"}`),
			"jwt[0].claimMappings.uid.expression: must evaluate to string"},
		{"extra key without domain", mappings(okUser + `, extra: [{key: "tenant", valueExpression: "claims.t"}]`),
			"jwt[0].claimMappings.extra[0].key: "},
		{"extra key upper case", mappings(okUser + `, extra: [{key: "example.com/Tenant", valueExpression: "claims.t"}]`),
			"jwt[0].claimMappings.extra[0].key: invalid value \"example.com/Tenant\": must be lowercase"},
		{"extra key reserved", mappings(okUser + `, extra: [{key: "authentication.kubernetes.io/x", valueExpression: "claims.t"}]`),
			"reserved for Kubernetes use"},
		{"extra key k8s.io", mappings(okUser + `, extra: [{key: "k8s.io/x", valueExpression: "claims.t"}]`),
			"reserved for Kubernetes use"},
		{"extra duplicate key", mappings(okUser + `, extra: [{key: "example.com/x", valueExpression: "claims.t"}, {key: "example.com/x", valueExpression: "claims.u"}]`),
			"jwt[0].claimMappings.extra[1].key: duplicate value"},
		{"extra without expression", mappings(okUser + `, extra: [{key: "example.com/x"}]`),
			"jwt[0].claimMappings.extra[0].valueExpression: Required value"},
		{"extra bad expression", mappings(okUser + `, extra: [{key: "example.com/x", valueExpression: "claims.t)"}]`),
			"jwt[0].claimMappings.extra[0].valueExpression: compilation failed"},
		{"rule not a bool", withRules("  claimValidationRules: [{expression: \"claims.admin\"}]\n"),
			"jwt[0].claimValidationRules[0].expression: must evaluate to bool"},
		{"rule does not compile", withRules("  claimValidationRules: [{claim: hd, requiredValue: x}, {expression: \"claims.x ==\"}]\n"),
			"jwt[0].claimValidationRules[1].expression: compilation failed"},
		{"rule claim and expression", withRules("  claimValidationRules: [{claim: hd, expression: \"true\"}]\n"),
			"jwt[0].claimValidationRules[0]: claim and expression can't both be set"},
		{"rule claim with message", withRules("  claimValidationRules: [{claim: hd, message: m}]\n"),
			"jwt[0].claimValidationRules[0].message: may not be specified when claim is set"},
		{"rule expression with required value", withRules("  claimValidationRules: [{expression: \"true\", requiredValue: x}]\n"),
			"jwt[0].claimValidationRules[0].requiredValue: may not be specified when expression is set"},
		{"rule duplicate", withRules("  claimValidationRules: [{expression: \"true\"}, {expression: \"true\"}]\n"),
			"jwt[0].claimValidationRules[1].expression: duplicate value"},
		{"empty rule", withRules("  claimValidationRules: [{message: m}]\n"),
			"jwt[0].claimValidationRules[0]: Required value"},
		{"user rule over claims", withRules("  userValidationRules: [{expression: \"claims.sub == 'x'\"}]\n"),
			"jwt[0].userValidationRules[0].expression: compilation failed"},
		{"user rule unknown field", withRules("  userValidationRules: [{expression: \"user.name == 'x'\"}]\n"),
			"jwt[0].userValidationRules[0].expression: compilation failed"},
		{"user rule not a bool", withRules("  userValidationRules: [{expression: \"user.username\"}]\n"),
			"jwt[0].userValidationRules[0].expression: must evaluate to bool"},
		{"user rule empty", withRules("  userValidationRules: [{message: m}]\n"),
			"jwt[0].userValidationRules[0].expression: Required value"},
		{"email without email_verified", mappings(`username: {expression: "claims.email"}`),
			"jwt[0].claimMappings.username.expression: claims.email_verified must be used"},
		{"optional email without email_verified", mappings(`username: {expression: "claims.?email.orValue('x')"}`),
			"claims.email_verified must be used"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q\n%s", tc.name, err, tc.want, tc.in)
		}
	}
	// email_verified used anywhere upstream looks is enough.
	for _, ok := range []string{
		mappings(`username: {expression: "claims.email_verified == true ? claims.email : ''"}`),
		mappings(`username: {expression: "claims.email", prefix: null}, extra: [{key: "example.com/v", valueExpression: "string(claims.email_verified)"}]`),
		mappings(`username: {expression: "claims.email"}`) + "  claimValidationRules: [{expression: \"claims.?email_verified.orValue(true) == true\"}]\n",
		mappings(`username: {expression: "claims.preferred_username"}`),
	} {
		if _, err := Parse([]byte(ok)); err != nil {
			t.Errorf("refused: %v\n%s", err, ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(celValid))
	f.Add([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt: [{}]\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = Parse(in)
	})
}

// TestCELWithIssuer: a configuration file with expressions, loaded and run against the loopback issuer.
func TestCELWithIssuer(t *testing.T) {
	iss := oidctest.Start(t)
	ca := strings.ReplaceAll(strings.TrimSpace(string(iss.CAPEM())), "\n", "\n      ")
	c, err := Parse([]byte(`apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: ` + iss.URL + `
    audiences: [skiff]
    certificateAuthority: |
      ` + ca + `
  claimValidationRules:
  - expression: "claims.?email_verified.orValue(true) == true"
    message: email must be verified
  - expression: "'dev' in claims.groups"
    message: only developers
  claimMappings:
    username: {expression: "claims.email.split('@')[0] + ':' + claims.sub"}
    groups: {claim: groups, prefix: "oidc:"}
    extra:
    - key: example.com/tenant
      valueExpression: "claims.tenant"
  userValidationRules:
  - expression: "!user.username.startsWith('root:')"
    message: no root
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := oidc.New(ctx, c.JWT[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500 && !a.Ready(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	claims := func(extra map[string]any) map[string]any {
		m := map[string]any{"iss": iss.URL, "aud": "skiff", "sub": "1234", "email": "alice@example.com", "email_verified": true,
			"groups": []string{"dev"}, "tenant": "blue", "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	u, ok, err := a.AuthenticateToken(ctx, iss.Sign(t, claims(nil)))
	if !ok || err != nil || u.Name != "alice:1234" || strings.Join(u.Groups, ",") != "oidc:dev" || u.Extra["example.com/tenant"][0] != "blue" {
		t.Fatalf("ok=%v err=%v user=%+v", ok, err, u)
	}
	for _, tc := range []struct {
		claims map[string]any
		want   string
	}{
		{map[string]any{"email_verified": false}, "email must be verified"},
		{map[string]any{"groups": []string{"ops"}}, "only developers"},
		{map[string]any{"email": "root@example.com"}, "no root"},
	} {
		if _, ok, err := a.AuthenticateToken(ctx, iss.Sign(t, claims(tc.claims))); ok || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: ok=%v err=%v, want a refusal mentioning %q", tc.claims, ok, err, tc.want)
		}
	}
}
