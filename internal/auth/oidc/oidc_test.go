package oidc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"skiff/internal/auth/oidc/oidctest"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func caFile(t *testing.T, iss *oidctest.Issuer) string {
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(p, iss.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func start(t *testing.T, iss *oidctest.Issuer, flags Flags, clk *clock) *Authenticator {
	t.Helper()
	flags.IssuerURL, flags.CAFile = iss.URL, caFile(t, iss)
	if flags.ClientID == "" {
		flags.ClientID = "skiff"
	}
	opts, err := flags.Options()
	if err != nil {
		t.Fatal(err)
	}
	return startOptions(t, opts, clk)
}

func startOptions(t *testing.T, opts Options, clk *clock) *Authenticator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := newAuthenticator(ctx, opts, clk.now, time.Minute, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, a)
	return a
}

func waitReady(t *testing.T, a *Authenticator) {
	t.Helper()
	for i := 0; i < 500 && !a.Ready(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !a.Ready() {
		t.Fatal("authenticator never fetched the issuer's keys")
	}
}

func claimsFor(iss *oidctest.Issuer, now time.Time, extra map[string]any) map[string]any {
	c := map[string]any{"iss": iss.URL, "aud": "skiff", "sub": "alice", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestAuthenticateToken(t *testing.T) {
	iss := oidctest.Start(t)
	clk := &clock{t: time.Now()}
	now := clk.now()
	cases := []struct {
		name     string
		opts     Flags
		claims   map[string]any
		forge    bool
		wantOK   bool
		wantUser string
		groups   []string
		errLike  string
	}{
		{name: "default prefix is issuer#", claims: nil, wantOK: true, wantUser: iss.URL + "#alice"},
		{name: "custom prefix and groups list", opts: Flags{UsernamePrefix: "oidc:", GroupsClaim: "groups", GroupsPrefix: "oidc:"},
			claims: map[string]any{"groups": []string{"dev", "ops"}}, wantOK: true, wantUser: "oidc:alice", groups: []string{"oidc:dev", "oidc:ops"}},
		{name: "groups as a string", opts: Flags{UsernamePrefix: "-", GroupsClaim: "groups"},
			claims: map[string]any{"groups": "dev"}, wantOK: true, wantUser: "alice", groups: []string{"dev"}},
		{name: "aud list containing client", opts: Flags{UsernamePrefix: "-"}, claims: map[string]any{"aud": []string{"other", "skiff"}}, wantOK: true, wantUser: "alice"},
		{name: "email claim has no prefix", opts: Flags{UsernameClaim: "email"},
			claims: map[string]any{"email": "alice@example.com", "email_verified": true}, wantOK: true, wantUser: "alice@example.com"},
		{name: "email without email_verified", opts: Flags{UsernameClaim: "email"},
			claims: map[string]any{"email": "alice@example.com"}, wantOK: true, wantUser: "alice@example.com"},
		{name: "email not verified", opts: Flags{UsernameClaim: "email"},
			claims: map[string]any{"email": "alice@example.com", "email_verified": false}, errLike: "email not verified"},
		{name: "expired", claims: map[string]any{"exp": now.Add(-time.Second).Unix()}, errLike: "expired"},
		{name: "no exp", claims: map[string]any{"exp": nil}, errLike: "no exp"},
		{name: "not yet valid", claims: map[string]any{"nbf": now.Add(time.Hour).Unix()}, errLike: "nbf"},
		{name: "nbf within leeway", opts: Flags{UsernamePrefix: "-"}, claims: map[string]any{"nbf": now.Add(time.Minute).Unix()}, wantOK: true, wantUser: "alice"},
		{name: "wrong audience", claims: map[string]any{"aud": "someone-else"}, errLike: "audience"},
		{name: "wrong signature", forge: true, errLike: "verify signature"},
		{name: "other issuer is not ours", claims: map[string]any{"iss": "https://elsewhere"}},
		{name: "missing username claim", opts: Flags{UsernameClaim: "preferred_username"}, errLike: "claim not present"},
		{name: "required claim matches", opts: Flags{UsernamePrefix: "-", RequiredClaims: []string{"hd=example.com"}},
			claims: map[string]any{"hd": "example.com"}, wantOK: true, wantUser: "alice"},
		{name: "required claim differs", opts: Flags{RequiredClaims: []string{"hd=example.com"}},
			claims: map[string]any{"hd": "evil.com"}, errLike: "does not match"},
		{name: "required claim missing", opts: Flags{RequiredClaims: []string{"hd=example.com"}}, errLike: "not present"},
		{name: "algorithm not allowed", opts: Flags{SigningAlgs: []string{"ES256"}}, errLike: "malformed jwt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := start(t, iss, tc.opts, clk)
			c := claimsFor(iss, now, tc.claims)
			token := iss.Sign(t, c)
			if tc.forge {
				token = iss.Forge(t, c)
			}
			u, ok, err := a.AuthenticateToken(context.Background(), token)
			if ok != tc.wantOK {
				t.Fatalf("ok=%v err=%v, want ok=%v", ok, err, tc.wantOK)
			}
			if tc.errLike != "" && (err == nil || !strings.Contains(err.Error(), tc.errLike)) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.errLike)
			}
			if tc.errLike == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !ok {
				return
			}
			if u.Name != tc.wantUser || strings.Join(u.Groups, ",") != strings.Join(tc.groups, ",") {
				t.Fatalf("user %q groups %q, want %q %q", u.Name, u.Groups, tc.wantUser, tc.groups)
			}
		})
	}
}

func TestNotAJWTIsNotOurs(t *testing.T) {
	iss := oidctest.Start(t)
	a := start(t, iss, Flags{}, &clock{t: time.Now()})
	for _, tok := range []string{"abcdef.0123456789abcdef", "a.b.c", "static-token"} {
		if _, ok, err := a.AuthenticateToken(context.Background(), tok); ok || err != nil {
			t.Fatalf("%q: ok=%v err=%v, want not mine", tok, ok, err)
		}
	}
}

func TestKeyRotationRefetchesRateLimited(t *testing.T) {
	iss := oidctest.Start(t)
	clk := &clock{t: time.Now()}
	a := start(t, iss, Flags{UsernamePrefix: "-"}, clk)
	fetches := iss.JWKSFetches.Load()
	iss.Rotate()
	token := iss.Sign(t, claimsFor(iss, clk.now(), nil))
	// The keys were fetched just now: an unknown kid does not refetch within the interval.
	if _, ok, err := a.AuthenticateToken(context.Background(), token); ok || err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Fatalf("ok=%v err=%v, want unknown key id", ok, err)
	}
	if got := iss.JWKSFetches.Load(); got != fetches {
		t.Fatalf("JWKS fetched %d times within the rate limit", got-fetches)
	}
	clk.add(2 * time.Minute)
	u, ok, err := a.AuthenticateToken(context.Background(), token)
	if !ok || err != nil || u.Name != "alice" {
		t.Fatalf("after the interval: ok=%v err=%v user=%v", ok, err, u)
	}
	if got := iss.JWKSFetches.Load(); got != fetches+1 {
		t.Fatalf("JWKS fetched %d times, want exactly one refetch", got-fetches)
	}
	// While the issuer is down, a new kid costs one failed fetch per interval, not one per request.
	iss.Close()
	iss.Rotate()
	clk.add(2 * time.Minute)
	down := iss.Sign(t, claimsFor(iss, clk.now(), nil))
	if _, _, err := a.AuthenticateToken(context.Background(), down); err == nil || !strings.Contains(err.Error(), "could not be refetched") {
		t.Fatalf("err %v, want a failed refetch", err)
	}
	if _, _, err := a.AuthenticateToken(context.Background(), down); err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Fatalf("err %v, want unknown key id without a fetch", err)
	}
	iss.Restart(t)
	clk.add(2 * time.Minute)
	if _, ok, err := a.AuthenticateToken(context.Background(), down); !ok || err != nil {
		t.Fatalf("after the issuer is back: ok=%v err=%v", ok, err)
	}
	fetches = iss.JWKSFetches.Load()
	// A token with a known kid but a bad signature never refetches.
	clk.add(2 * time.Minute)
	if _, ok, _ := a.AuthenticateToken(context.Background(), iss.Forge(t, claimsFor(iss, clk.now(), nil))); ok {
		t.Fatal("forged token accepted")
	}
	if got := iss.JWKSFetches.Load(); got != fetches {
		t.Fatalf("a forged token with a known kid refetched the JWKS")
	}
}

// TestIssuerDownAtStart: the authenticator is created while nothing listens at the issuer URL; its tokens are
// refused until the issuer comes up, then accepted without restarting anything.
func TestIssuerDownAtStart(t *testing.T) {
	iss := oidctest.Start(t)
	ca := caFile(t, iss)
	url := iss.URL
	iss.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts, err := Flags{IssuerURL: url, ClientID: "skiff", CAFile: ca, UsernamePrefix: "-"}.Options()
	if err != nil {
		t.Fatal(err)
	}
	a, err := newAuthenticator(ctx, opts, time.Now, time.Minute, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	token := iss.Sign(t, claimsFor(iss, time.Now(), nil))
	if _, ok, err := a.AuthenticateToken(context.Background(), token); ok || err == nil {
		t.Fatalf("token accepted (ok=%v err=%v) while the issuer is down", ok, err)
	}
	iss.Restart(t)
	waitReady(t, a)
	if u, ok, err := a.AuthenticateToken(context.Background(), token); !ok || err != nil || u.Name != "alice" {
		t.Fatalf("after the issuer came up: ok=%v err=%v", ok, err)
	}
}

func TestOptions(t *testing.T) {
	for _, f := range []Flags{
		{IssuerURL: "http://insecure", ClientID: "x"},
		{IssuerURL: "https://x"},
		{IssuerURL: "https://x?q=1", ClientID: "x"},
		{IssuerURL: "https://x", ClientID: "x", SigningAlgs: []string{"HS256"}},
		{IssuerURL: "https://x", ClientID: "x", RequiredClaims: []string{"novalue"}},
	} {
		o, err := f.Options()
		if err == nil {
			_, err = o.validate()
		}
		if err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
}

// TestStructuredOptions: literal prefixes, several audiences, a UID claim and a discovery URL elsewhere.
func TestStructuredOptions(t *testing.T) {
	iss := oidctest.Start(t)
	clk := &clock{t: time.Now()}
	opts := Options{IssuerURL: iss.URL, DiscoveryURL: iss.URL + "/.well-known/openid-configuration", Audiences: []string{"a", "b"},
		CAPEM: iss.CAPEM(), UsernameClaim: "sub", UIDClaim: "oid", GroupsClaim: "roles"}
	a := startOptions(t, opts, clk)
	u, ok, err := a.AuthenticateToken(context.Background(), iss.Sign(t, claimsFor(iss, clk.now(), map[string]any{"aud": []string{"x", "b"}, "oid": "1234", "roles": []string{"r"}, "jti": "j1"})))
	if !ok || err != nil || u.Name != "alice" || u.UID != "1234" || strings.Join(u.Groups, ",") != "r" || u.Extra[CredentialIDKey][0] != "JTI=j1" {
		t.Fatalf("ok=%v err=%v user=%+v", ok, err, u)
	}
	if _, ok, err := a.AuthenticateToken(context.Background(), iss.Sign(t, claimsFor(iss, clk.now(), map[string]any{"aud": "a"}))); ok || err == nil || !strings.Contains(err.Error(), "uid claim") {
		t.Fatalf("token without the uid claim: ok=%v err=%v", ok, err)
	}
}

// BenchmarkAuthenticateToken measures one OIDC token check (RS256 signature and claims), which every request
// with such a token pays (there is no token cache).
func BenchmarkAuthenticateToken(b *testing.B) {
	iss := oidctest.Start(b)
	p := filepath.Join(b.TempDir(), "ca.crt")
	if err := os.WriteFile(p, iss.CAPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	opts, err := Flags{IssuerURL: iss.URL, ClientID: "skiff", CAFile: p, GroupsClaim: "groups"}.Options()
	if err != nil {
		b.Fatal(err)
	}
	a, err := newAuthenticator(b.Context(), opts, time.Now, time.Minute, 10*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	for !a.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	token := iss.Sign(b, claimsFor(iss, time.Now(), map[string]any{"groups": []string{"a", "b"}}))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := a.AuthenticateToken(context.Background(), token); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// FuzzAuthenticateToken: any bearer string, including ones claiming our issuer, is refused or accepted without
// panicking.
func FuzzAuthenticateToken(f *testing.F) {
	iss := oidctest.Start(f)
	p := filepath.Join(f.TempDir(), "ca.crt")
	if err := os.WriteFile(p, iss.CAPEM(), 0o600); err != nil {
		f.Fatal(err)
	}
	opts, err := Flags{IssuerURL: iss.URL, ClientID: "skiff", CAFile: p, GroupsClaim: "groups"}.Options()
	if err != nil {
		f.Fatal(err)
	}
	a, err := newAuthenticator(f.Context(), opts, time.Now, time.Hour, 10*time.Millisecond)
	if err != nil {
		f.Fatal(err)
	}
	for !a.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	good := iss.Sign(f, claimsFor(iss, time.Now(), map[string]any{"groups": []any{"a", 1}}))
	f.Add(good)
	f.Add(strings.Join(strings.Split(good, ".")[:2], ".") + ".")
	f.Add("e30.e30.e30")
	f.Fuzz(func(t *testing.T, token string) {
		_, _, _ = a.AuthenticateToken(context.Background(), token)
	})
}

func mustClaims(t *testing.T, src string, kind ResultKind, message string) *Expression {
	t.Helper()
	e, err := CompileClaims(src, kind)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	e.Message = message
	return e
}

func mustUser(t *testing.T, src, message string) *Expression {
	t.Helper()
	e, err := CompileUser(src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	e.Message = message
	return e
}

// TestCELMappings: username, groups, uid and extra from expressions, claim and user validation rules, with the
// loopback issuer.
func TestCELMappings(t *testing.T) {
	iss := oidctest.Start(t)
	clk := &clock{t: time.Now()}
	now := clk.now()
	opts := Options{IssuerURL: iss.URL, Audiences: []string{"skiff"}, CAPEM: iss.CAPEM(),
		UsernameExpression: mustClaims(t, `claims.?email_verified.orValue(true) == true ? "oidc:" + claims.email : ""`, ResultString, ""),
		GroupsExpression:   mustClaims(t, `has(claims.roles) ? claims.roles.map(r, "role:" + r) : dyn(null)`, ResultStrings, ""),
		UIDExpression:      mustClaims(t, `claims.?uid.orValue(string(claims.num))`, ResultString, ""),
		Extra: []ExtraMapping{
			{Key: "example.com/tenant", Value: mustClaims(t, `claims.?tenant.orValue("")`, ResultStrings, "")},
			{Key: "example.com/scopes", Value: mustClaims(t, `claims.scp.split(" ")`, ResultStrings, "")},
			{Key: "example.com/nested", Value: mustClaims(t, `claims.org.unit`, ResultStrings, "")},
		},
		ClaimValidationRules: []*Expression{mustClaims(t, `claims.num > 10`, ResultBool, "num must be above 10")},
		UserValidationRules: []*Expression{
			mustUser(t, `!user.username.startsWith("oidc:system:")`, "no system names"),
			mustUser(t, `!("role:banned" in user.groups)`, "banned"),
			mustUser(t, `!("example.com/tenant" in user.extra) || user.extra["example.com/tenant"][0] != "evil"`, "evil tenant"),
			mustUser(t, `!("`+CredentialIDKey+`" in user.extra) || user.extra["`+CredentialIDKey+`"][0] != "JTI=banned"`, "banned credential"),
		},
	}
	a := startOptions(t, opts, clk)
	base := map[string]any{"email": "alice@example.com", "email_verified": true, "roles": []string{"dev", "ops"}, "num": 42,
		"scp": "read write  ", "org": map[string]any{"unit": []any{"u1", ""}}, "tenant": "blue", "jti": "j1"}
	with := func(changes map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range base {
			c[k] = v
		}
		for k, v := range changes {
			c[k] = v
		}
		return claimsFor(iss, now, c)
	}
	u, ok, err := a.AuthenticateToken(context.Background(), iss.Sign(t, with(nil)))
	if !ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if u.Name != "oidc:alice@example.com" || u.UID != "42" || strings.Join(u.Groups, ",") != "role:dev,role:ops" ||
		strings.Join(u.Extra["example.com/tenant"], ",") != "blue" || strings.Join(u.Extra["example.com/scopes"], ",") != "read,write" ||
		strings.Join(u.Extra["example.com/nested"], ",") != "u1" || u.Extra[CredentialIDKey][0] != "JTI=j1" {
		t.Fatalf("user %+v", u)
	}
	// No roles claim: null groups; empty tenant: no extra key.
	u, ok, err = a.AuthenticateToken(context.Background(), iss.Sign(t, with(map[string]any{"roles": nil, "tenant": ""})))
	if !ok || err != nil || len(u.Groups) != 0 {
		t.Fatalf("without roles: ok=%v err=%v user=%+v", ok, err, u)
	}
	if _, has := u.Extra["example.com/tenant"]; has {
		t.Fatalf("empty extra value kept: %+v", u.Extra)
	}
	for name, tc := range map[string]struct {
		changes map[string]any
		errLike string
	}{
		"claim rule false":              {map[string]any{"num": 3}, "validation expression 'claims.num > 10' failed: num must be above 10"},
		"claim rule on a missing claim": {map[string]any{"num": nil}, "no such key"},
		"username empty":                {map[string]any{"email_verified": false}, "empty username via CEL expression is not allowed"},
		"username fails to run":         {map[string]any{"email": 7}, "error evaluating username claim expression: no such overload"},
		"uid not a string":              {map[string]any{"uid": 7}, "error evaluating uid claim expression: expression must return a string, got int"},
		"groups not strings":            {map[string]any{"roles": "dev"}, "error evaluating group claim expression"},
		"extra not strings":             {map[string]any{"tenant": 5}, "must return a string or a list of strings"},
		"extra list with a number":      {map[string]any{"org": map[string]any{"unit": []any{"a", 1}}}, "must return a string or a list of strings"},
		"user rule on username":         {map[string]any{"email": "system:x"}, "validation expression '!user.username.startsWith(\"oidc:system:\")' failed: no system names"},
		"user rule on groups":           {map[string]any{"roles": []string{"banned"}}, "failed: banned"},
		"user rule on extra":            {map[string]any{"tenant": "evil"}, "failed: evil tenant"},
		"user rule on credential id":    {map[string]any{"jti": "banned"}, "failed: banned credential"},
	} {
		t.Run(name, func(t *testing.T) {
			u, ok, err := a.AuthenticateToken(context.Background(), iss.Sign(t, with(tc.changes)))
			if ok || err == nil || !strings.Contains(err.Error(), tc.errLike) {
				t.Fatalf("ok=%v err=%v user=%+v, want a refusal mentioning %q", ok, err, u, tc.errLike)
			}
		})
	}
}

// TestCELClaimTypes: JSON numbers are ints when integral, doubles otherwise; nested objects and lists are
// reachable.
func TestCELClaimTypes(t *testing.T) {
	iss := oidctest.Start(t)
	clk := &clock{t: time.Now()}
	opts := Options{IssuerURL: iss.URL, Audiences: []string{"skiff"}, CAPEM: iss.CAPEM(), UsernameClaim: "sub"}
	if _, err := CompileClaims(`claims.b`, ResultBool); err == nil {
		t.Fatal("a dyn rule compiled; upstream wants it typed bool")
	}
	for _, src := range []string{`type(claims.i) == int && claims.i == 3`, `type(claims.f) == double && claims.f > 1.0`,
		`claims.obj.list[1].name == "b"`, `claims.b == true`} {
		opts.ClaimValidationRules = append(opts.ClaimValidationRules, mustClaims(t, src, ResultBool, ""))
	}
	a := startOptions(t, opts, clk)
	token := iss.Sign(t, claimsFor(iss, clk.now(), map[string]any{"i": 3, "f": 1.5, "b": true,
		"obj": map[string]any{"list": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}}}))
	if u, ok, err := a.AuthenticateToken(context.Background(), token); !ok || err != nil || u.Name != "alice" {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}

// BenchmarkAuthenticateTokenCEL is BenchmarkAuthenticateToken with CEL: a username, groups and extra
// expression, a claim validation rule and a user validation rule.
func BenchmarkAuthenticateTokenCEL(b *testing.B) {
	iss := oidctest.Start(b)
	compile := func(src string, kind ResultKind) *Expression {
		e, err := CompileClaims(src, kind)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	user, err := CompileUser(`!user.username.startsWith("system:")`)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{IssuerURL: iss.URL, Audiences: []string{"skiff"}, CAPEM: iss.CAPEM(),
		UsernameExpression:   compile(`"oidc:" + claims.sub`, ResultString),
		GroupsExpression:     compile(`claims.groups.map(g, "oidc:" + g)`, ResultStrings),
		Extra:                []ExtraMapping{{Key: "example.com/tenant", Value: compile(`claims.tenant`, ResultStrings)}},
		ClaimValidationRules: []*Expression{compile(`claims.tenant == "blue"`, ResultBool)},
		UserValidationRules:  []*Expression{user}}
	a, err := newAuthenticator(b.Context(), opts, time.Now, time.Minute, 10*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	for !a.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	token := iss.Sign(b, claimsFor(iss, time.Now(), map[string]any{"groups": []string{"a", "b"}, "tenant": "blue"}))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := a.AuthenticateToken(context.Background(), token); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
