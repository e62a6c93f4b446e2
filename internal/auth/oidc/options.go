package oidc

import (
	"fmt"
	"net/url"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Options are upstream's --oidc-* flags.
type Options struct {
	IssuerURL string
	ClientID  string
	// CAFile verifies the issuer's serving certificate (default: the system roots).
	CAFile string
	// UsernameClaim is the claim used as user name (default "sub").
	UsernameClaim string
	// UsernamePrefix is put before the user name. Empty means upstream's default: "<issuer>#" unless the
	// claim is "email"; "-" means no prefix.
	UsernamePrefix string
	GroupsClaim    string
	GroupsPrefix   string
	// RequiredClaims must be present in the token with exactly these values.
	RequiredClaims map[string]string
	// SigningAlgs are the accepted JOSE signature algorithms (default RS256).
	SigningAlgs []string
}

var supportedAlgs = map[string]bool{
	string(jose.RS256): true, string(jose.RS384): true, string(jose.RS512): true,
	string(jose.ES256): true, string(jose.ES384): true, string(jose.ES512): true,
	string(jose.PS256): true, string(jose.PS384): true, string(jose.PS512): true,
}

// complete validates o and fills in upstream's defaults.
func (o Options) complete() (Options, error) {
	if o.IssuerURL == "" || o.ClientID == "" {
		return o, fmt.Errorf("oidc: --oidc-issuer-url and --oidc-client-id must be set together")
	}
	u, err := url.Parse(o.IssuerURL)
	if err != nil {
		return o, fmt.Errorf("oidc: --oidc-issuer-url: %w", err)
	}
	if u.Scheme != "https" {
		return o, fmt.Errorf("oidc: --oidc-issuer-url %q: scheme must be https", o.IssuerURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return o, fmt.Errorf("oidc: --oidc-issuer-url %q: must not contain a user, query or fragment", o.IssuerURL)
	}
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
	for _, a := range o.SigningAlgs {
		if !supportedAlgs[a] {
			return o, fmt.Errorf("oidc: --oidc-signing-algs: unsupported algorithm %q", a)
		}
	}
	return o, nil
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
