package oidc

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Options configure one JWT issuer with the semantics of the structured AuthenticationConfiguration: every
// value is taken literally (no defaulted prefix).
type Options struct {
	IssuerURL string
	// DiscoveryURL, when set, is where the discovery document is read instead of
	// <IssuerURL>/.well-known/openid-configuration; its issuer must still be IssuerURL.
	DiscoveryURL string
	// Audiences: the token's aud must hold at least one of them.
	Audiences []string
	// CAPEM verifies the issuer's serving certificate (default: the system roots).
	CAPEM []byte
	// UsernameClaim is the claim used as user name, UsernamePrefix is put before it. UsernameExpression
	// (CEL over claims) is the alternative: exactly one of the two is set.
	UsernameClaim      string
	UsernamePrefix     string
	UsernameExpression *Expression
	// GroupsClaim (with GroupsPrefix) or GroupsExpression, or neither.
	GroupsClaim      string
	GroupsPrefix     string
	GroupsExpression *Expression
	// UIDClaim or UIDExpression, when set, give the user's UID.
	UIDClaim      string
	UIDExpression *Expression
	// Extra maps CEL expressions to user extra keys.
	Extra []ExtraMapping
	// RequiredClaims must be present in the token with exactly these values.
	RequiredClaims map[string]string
	// ClaimValidationRules (CEL over claims) must all hold; UserValidationRules (CEL over the mapped user)
	// too. Each rule's Message says why it refused.
	ClaimValidationRules []*Expression
	UserValidationRules  []*Expression
	// SigningAlgs are the accepted JOSE signature algorithms (default: all asymmetric ones).
	SigningAlgs []string
}

// ExtraMapping is one claimMappings.extra entry: Value yields the values of user extra Key.
type ExtraMapping struct {
	Key   string
	Value *Expression
}

// Flags are upstream's --oidc-* flags.
type Flags struct {
	IssuerURL, ClientID, CAFile string
	UsernameClaim               string // default "sub"
	// UsernamePrefix "" means upstream's default ("<issuer>#" unless the claim is "email"); "-" means none.
	UsernamePrefix            string
	GroupsClaim, GroupsPrefix string
	RequiredClaims            []string // key=value
	SigningAlgs               []string // default RS256
}

// Set says whether any OIDC flag that turns the authenticator on was given.
func (f Flags) Set() bool { return f.IssuerURL != "" || f.ClientID != "" }

// Options turns the flags into Options with upstream's defaults.
func (f Flags) Options() (Options, error) {
	if f.IssuerURL == "" || f.ClientID == "" {
		return Options{}, fmt.Errorf("oidc: --oidc-issuer-url and --oidc-client-id must be set together")
	}
	o := Options{IssuerURL: f.IssuerURL, Audiences: []string{f.ClientID}, UsernameClaim: f.UsernameClaim,
		UsernamePrefix: f.UsernamePrefix, GroupsClaim: f.GroupsClaim, GroupsPrefix: f.GroupsPrefix, SigningAlgs: f.SigningAlgs}
	if o.UsernameClaim == "" {
		o.UsernameClaim = "sub"
	}
	switch o.UsernamePrefix {
	case "":
		if o.UsernameClaim != "email" {
			o.UsernamePrefix = o.IssuerURL + "#"
		}
	case "-":
		o.UsernamePrefix = ""
	}
	if len(o.SigningAlgs) == 0 {
		o.SigningAlgs = []string{string(jose.RS256)}
	}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return o, fmt.Errorf("oidc: --oidc-ca-file: %w", err)
		}
		o.CAPEM = pem
	}
	rc, err := ParseRequiredClaims(f.RequiredClaims)
	if err != nil {
		return o, err
	}
	o.RequiredClaims = rc
	return o, nil
}

var supportedAlgs = []string{
	string(jose.RS256), string(jose.RS384), string(jose.RS512),
	string(jose.ES256), string(jose.ES384), string(jose.ES512),
	string(jose.PS256), string(jose.PS384), string(jose.PS512),
}

// validate checks o and fills in what an unset field means.
func (o Options) validate() (Options, error) {
	if err := ValidateIssuerURL(o.IssuerURL); err != nil {
		return o, err
	}
	if len(o.Audiences) == 0 {
		return o, fmt.Errorf("oidc: issuer %q: at least one audience (client ID) is required", o.IssuerURL)
	}
	if (o.UsernameClaim == "") == (o.UsernameExpression == nil) {
		return o, fmt.Errorf("oidc: issuer %q: exactly one of a username claim and a username expression is required", o.IssuerURL)
	}
	if len(o.SigningAlgs) == 0 {
		o.SigningAlgs = supportedAlgs
	}
	for _, a := range o.SigningAlgs {
		if !strings.Contains(","+strings.Join(supportedAlgs, ",")+",", ","+a+",") {
			return o, fmt.Errorf("oidc: unsupported signing algorithm %q", a)
		}
	}
	return o, nil
}

// ValidateIssuerURL applies upstream's rules: https, no user, query or fragment.
func ValidateIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("oidc: issuer URL %q: %w", s, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("oidc: issuer URL %q: scheme must be https", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("oidc: issuer URL %q: must not contain a user, query or fragment", s)
	}
	return nil
}

// ParseRequiredClaims turns repeated key=value flags into a map.
func ParseRequiredClaims(kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--oidc-required-claim %q: want key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}
