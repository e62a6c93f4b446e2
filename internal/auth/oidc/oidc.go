package oidc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"skiff/internal/auth"
)

// CredentialIDKey is upstream's user extra key naming the credential a request used.
const CredentialIDKey = "authentication.kubernetes.io/credential-id"

// nbfLeeway tolerates issuers whose clock runs ahead, as upstream's verifier does for nbf; exp is strict.
const nbfLeeway = 5 * time.Minute

// Authenticator verifies ID tokens of one OIDC issuer.
type Authenticator struct {
	opts Options
	algs []jose.SignatureAlgorithm
	keys *keySet
	now  func() time.Time
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

// New validates opts and starts fetching the issuer's discovery document and keys in the background, retrying
// until ctx ends; tokens of the issuer are refused until the keys are known. A provider that is down therefore
// never stops the API server from starting.
func New(ctx context.Context, opts Options) (*Authenticator, error) {
	return newAuthenticator(ctx, opts, time.Now, 10*time.Second, time.Second)
}

func newAuthenticator(ctx context.Context, opts Options, now func() time.Time, minRefresh, retry time.Duration) (*Authenticator, error) {
	opts, err := opts.validate()
	if err != nil {
		return nil, err
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(opts.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(opts.CAPEM) {
			return nil, fmt.Errorf("oidc: issuer %q: the certificate authority has no PEM certificates", opts.IssuerURL)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	a := &Authenticator{opts: opts, now: now,
		keys: &keySet{issuer: opts.IssuerURL, discoveryURL: opts.DiscoveryURL, client: &http.Client{Transport: tr}, now: now, minRefresh: minRefresh}}
	for _, alg := range opts.SigningAlgs {
		a.algs = append(a.algs, jose.SignatureAlgorithm(alg))
	}
	go a.initialize(ctx, retry)
	return a, nil
}

// initialize discovers the issuer, backing off from retry to a minute between attempts.
func (a *Authenticator) initialize(ctx context.Context, retry time.Duration) {
	for wait := retry; ; wait = min(2*wait, time.Minute) {
		err := a.keys.discover(ctx)
		if err == nil {
			slog.Info("oidc: issuer keys fetched", "issuer", a.opts.IssuerURL)
			return
		}
		slog.Warn("oidc: issuer not reachable yet; its tokens are refused until it is", "issuer", a.opts.IssuerURL, "err", err, "retry", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Ready says whether the issuer's keys are known.
func (a *Authenticator) Ready() bool { return a.keys.ready() }

// AuthenticateToken implements auth.TokenAuthenticator. Tokens that are not JWTs of our issuer are not ours.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*auth.User, bool, error) {
	if !a.issuedByUs(token) {
		return nil, false, nil
	}
	if !a.keys.ready() {
		return nil, false, errNotReady
	}
	jws, err := jose.ParseSignedCompact(token, a.algs)
	if err != nil {
		return nil, false, fmt.Errorf("oidc: malformed jwt: %w", err)
	}
	payload, err := a.verifySignature(ctx, jws)
	if err != nil {
		return nil, false, err
	}
	c, err := parseClaims(payload)
	if err != nil {
		return nil, false, err
	}
	if err := a.checkStandard(c); err != nil {
		return nil, false, err
	}
	u, err := a.user(c)
	if err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// issuedByUs peeks at the unverified iss claim, so tokens of other issuers (service accounts...) pass on.
func (a *Authenticator) issuedByUs(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	return json.Unmarshal(raw, &c) == nil && c.Issuer == a.opts.IssuerURL
}

// verifySignature checks the token against the key its kid names; an unknown kid makes the key set refetch
// (the issuer may have rotated its keys), at most once per minRefresh.
func (a *Authenticator) verifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: jwt must have exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	for attempt := 0; ; attempt++ {
		keys, fetched := a.keys.candidates(kid)
		for _, k := range keys {
			if payload, err := jws.Verify(k); err == nil {
				return payload, nil
			}
		}
		if len(keys) > 0 || attempt > 0 {
			return nil, errors.New("oidc: failed to verify signature: no key of the issuer verifies the token")
		}
		changed, err := a.keys.refresh(ctx, fetched)
		if err != nil {
			return nil, fmt.Errorf("oidc: unknown key id %q and the key set could not be refetched: %w", kid, err)
		}
		if !changed {
			return nil, fmt.Errorf("oidc: failed to verify signature: unknown key id %q", kid)
		}
	}
}

type claims map[string]json.RawMessage

func parseClaims(payload []byte) (claims, error) {
	var c claims
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return nil, fmt.Errorf("oidc: malformed claims: %w", err)
	}
	return c, nil
}

func (c claims) string(name string) (string, bool, error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, fmt.Errorf("oidc: claim %q is not a string", name)
	}
	return s, true, nil
}

// strings reads a claim that may be a string or a list of strings (aud, groups).
func (c claims) strings(name string) ([]string, bool, error) {
	raw, ok := c[name]
	if !ok {
		return nil, false, nil
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err == nil {
		return l, true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, true, fmt.Errorf("oidc: claim %q is neither a string nor a list of strings", name)
	}
	return []string{s}, true, nil
}

func (c claims) time(name string) (time.Time, bool, error) {
	raw, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return time.Time{}, true, fmt.Errorf("oidc: claim %q is not a number", name)
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, true, fmt.Errorf("oidc: claim %q is not a number", name)
	}
	return time.Unix(int64(f), 0), true, nil
}

// checkStandard verifies iss, aud, exp and nbf.
func (a *Authenticator) checkStandard(c claims) error {
	if iss, _, _ := c.string("iss"); iss != a.opts.IssuerURL {
		return fmt.Errorf("oidc: id token issued by a different provider, expected %q got %q", a.opts.IssuerURL, iss)
	}
	aud, _, err := c.strings("aud")
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(a.opts.Audiences, func(want string) bool { return slices.Contains(aud, want) }) {
		return fmt.Errorf("oidc: expected audience in %q got %q", a.opts.Audiences, aud)
	}
	now := a.now()
	exp, ok, err := c.time("exp")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("oidc: token has no exp claim")
	}
	if !now.Before(exp) {
		return fmt.Errorf("oidc: token is expired (Token Expiry: %s)", exp.UTC().Format(time.RFC3339))
	}
	if nbf, ok, err := c.time("nbf"); err != nil {
		return err
	} else if ok && now.Add(nbfLeeway).Before(nbf) {
		return fmt.Errorf("oidc: current time %s before the nbf (not before) time: %s", now.UTC().Format(time.RFC3339), nbf.UTC().Format(time.RFC3339))
	}
	for k, want := range a.opts.RequiredClaims {
		got, ok, err := c.string(k)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("oidc: required claim %s not present in ID token", k)
		}
		if got != want {
			return fmt.Errorf("oidc: required claim %s value does not match. Got = %s, want = %s", k, got, want)
		}
	}
	return nil
}

// usesCEL says whether any expression reads the claims variable.
func (a *Authenticator) usesCEL() bool {
	o := a.opts
	return o.UsernameExpression != nil || o.GroupsExpression != nil || o.UIDExpression != nil || len(o.Extra) > 0 ||
		len(o.ClaimValidationRules) > 0
}

// user maps the claims to a user as upstream, in its order: username (claim: email only when verified, prefix;
// or expression: a non-empty string), groups, uid, extra; then the claim validation rules and the user
// validation rules. Expressions failing to run refuse the token.
func (a *Authenticator) user(c claims) (*auth.User, error) {
	var vars map[string]any
	if a.usesCEL() {
		cc, err := celClaims(c)
		if err != nil {
			return nil, err
		}
		vars = map[string]any{"claims": cc}
	}
	u := &auth.User{}
	var err error
	if u.Name, err = a.username(c, vars); err != nil {
		return nil, err
	}
	if u.Groups, err = a.groups(c, vars); err != nil {
		return nil, err
	}
	if u.UID, err = a.uid(c, vars); err != nil {
		return nil, err
	}
	for _, m := range a.opts.Extra {
		values, err := m.Value.evalStrings(vars)
		if err != nil {
			return nil, fmt.Errorf("oidc: error evaluating extra claim expression: %s: %w", m.Value.Source, err)
		}
		if len(values) > 0 {
			if u.Extra == nil {
				u.Extra = map[string][]string{}
			}
			u.Extra[m.Key] = values
		}
	}
	for _, r := range a.opts.ClaimValidationRules {
		if err := r.evalRule(vars); err != nil {
			return nil, fmt.Errorf("oidc: error evaluating claim validation expression: %w", err)
		}
	}
	// As upstream, the token's jti identifies the credential (audit logs show it); it is
	// part of the user that userValidationRules see.
	if jti, _, err := c.string("jti"); err == nil && jti != "" {
		if u.Extra == nil {
			u.Extra = map[string][]string{}
		}
		u.Extra[CredentialIDKey] = []string{"JTI=" + jti}
	}
	if len(a.opts.UserValidationRules) > 0 {
		info := UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups, Extra: u.Extra}
		if info.Groups == nil {
			info.Groups = []string{}
		}
		if info.Extra == nil {
			info.Extra = map[string][]string{}
		}
		uvars := map[string]any{"user": info}
		for _, r := range a.opts.UserValidationRules {
			if err := r.evalRule(uvars); err != nil {
				return nil, fmt.Errorf("oidc: error evaluating user info validation rule: %w", err)
			}
		}
	}
	return u, nil
}

func (a *Authenticator) username(c claims, vars map[string]any) (string, error) {
	if e := a.opts.UsernameExpression; e != nil {
		name, err := e.evalString(vars)
		if err != nil {
			return "", fmt.Errorf("oidc: error evaluating username claim expression: %w", err)
		}
		if name == "" {
			return "", errors.New("oidc: empty username via CEL expression is not allowed")
		}
		return name, nil
	}
	name, ok, err := c.string(a.opts.UsernameClaim)
	if err != nil {
		return "", err
	}
	if !ok || name == "" {
		return "", fmt.Errorf("oidc: parse username claims %q: claim not present", a.opts.UsernameClaim)
	}
	if a.opts.UsernameClaim == "email" {
		if raw, ok := c["email_verified"]; ok {
			var verified bool
			if err := json.Unmarshal(raw, &verified); err != nil {
				return "", fmt.Errorf("oidc: parse 'email_verified' claim: %w", err)
			}
			if !verified {
				return "", fmt.Errorf("oidc: email not verified")
			}
		}
	}
	return a.opts.UsernamePrefix + name, nil
}

// groups: the claim (a string or a list; absent means none), else the expression.
func (a *Authenticator) groups(c claims, vars map[string]any) ([]string, error) {
	if a.opts.GroupsClaim != "" {
		groups, _, err := c.strings(a.opts.GroupsClaim)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, g := range groups {
			out = append(out, a.opts.GroupsPrefix+g)
		}
		return out, nil
	}
	if e := a.opts.GroupsExpression; e != nil {
		groups, err := e.evalStrings(vars)
		if err != nil {
			return nil, fmt.Errorf("oidc: error evaluating group claim expression: %w", err)
		}
		return groups, nil
	}
	return nil, nil
}

func (a *Authenticator) uid(c claims, vars map[string]any) (string, error) {
	if a.opts.UIDClaim != "" {
		uid, ok, err := c.string(a.opts.UIDClaim)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("oidc: parse uid claim %q: claim not present", a.opts.UIDClaim)
		}
		return uid, nil
	}
	if e := a.opts.UIDExpression; e != nil {
		uid, err := e.evalString(vars)
		if err != nil {
			return "", fmt.Errorf("oidc: error evaluating uid claim expression: %w", err)
		}
		return uid, nil
	}
	return "", nil
}
