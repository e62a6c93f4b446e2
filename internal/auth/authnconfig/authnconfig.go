// Package authnconfig reads upstream's structured authentication configuration (--authentication-config): an
// AuthenticationConfiguration of apiserver.config.k8s.io/v1 (or v1beta1, v1alpha1) with JWT issuers and the
// anonymous section. skiff implements the claim-based parts; CEL expressions (claim validation and mapping
// expressions, extra mappings, user validation rules) are refused with a clear error. The file is read once at
// start.
package authnconfig

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"sigs.k8s.io/yaml"

	"skiff/internal/auth/oidc"
)

// The file's types, compatible with upstream's (k8s.io/apiserver/pkg/apis/apiserver), which skiff does not
// import because that module pulls in the generic API server.
type (
	// AuthenticationConfiguration is the file's top level.
	AuthenticationConfiguration struct {
		APIVersion string             `json:"apiVersion"`
		Kind       string             `json:"kind"`
		JWT        []JWTAuthenticator `json:"jwt"`
		Anonymous  *AnonymousConfig   `json:"anonymous,omitempty"`
	}
	// JWTAuthenticator is one issuer.
	JWTAuthenticator struct {
		Issuer               Issuer                `json:"issuer"`
		ClaimValidationRules []ClaimValidationRule `json:"claimValidationRules,omitempty"`
		ClaimMappings        ClaimMappings         `json:"claimMappings"`
		UserValidationRules  []UserValidationRule  `json:"userValidationRules,omitempty"`
	}
	// Issuer is the provider's connection settings.
	Issuer struct {
		URL                  string   `json:"url"`
		DiscoveryURL         *string  `json:"discoveryURL,omitempty"`
		CertificateAuthority string   `json:"certificateAuthority,omitempty"`
		Audiences            []string `json:"audiences"`
		AudienceMatchPolicy  string   `json:"audienceMatchPolicy,omitempty"`
		EgressSelectorType   string   `json:"egressSelectorType,omitempty"`
	}
	// ClaimValidationRule requires a claim value (or a CEL expression, unsupported).
	ClaimValidationRule struct {
		Claim         string `json:"claim,omitempty"`
		RequiredValue string `json:"requiredValue,omitempty"`
		Expression    string `json:"expression,omitempty"`
		Message       string `json:"message,omitempty"`
	}
	// ClaimMappings map claims to the user.
	ClaimMappings struct {
		Username PrefixedClaimOrExpression `json:"username"`
		Groups   PrefixedClaimOrExpression `json:"groups,omitempty"`
		UID      ClaimOrExpression         `json:"uid,omitempty"`
		Extra    []ExtraMapping            `json:"extra,omitempty"`
	}
	// PrefixedClaimOrExpression is a claim with a prefix (or a CEL expression, unsupported).
	PrefixedClaimOrExpression struct {
		Claim      string  `json:"claim,omitempty"`
		Prefix     *string `json:"prefix,omitempty"`
		Expression string  `json:"expression,omitempty"`
	}
	// ClaimOrExpression is a claim (or a CEL expression, unsupported).
	ClaimOrExpression struct {
		Claim      string `json:"claim,omitempty"`
		Expression string `json:"expression,omitempty"`
	}
	// ExtraMapping is a CEL mapping to an extra key (unsupported).
	ExtraMapping struct {
		Key             string `json:"key"`
		ValueExpression string `json:"valueExpression"`
	}
	// UserValidationRule is a CEL rule on the user (unsupported).
	UserValidationRule struct {
		Expression string `json:"expression"`
		Message    string `json:"message,omitempty"`
	}
	// AnonymousConfig is the anonymous section: on or off, and optionally only for some paths.
	AnonymousConfig struct {
		Enabled    bool                 `json:"enabled"`
		Conditions []AnonymousCondition `json:"conditions,omitempty"`
	}
	// AnonymousCondition is a path anonymous requests may reach.
	AnonymousCondition struct {
		Path string `json:"path"`
	}
)

// Config is what the server uses from the file.
type Config struct {
	JWT []oidc.Options
	// Anonymous is nil when the file has no anonymous section (--anonymous-auth decides).
	Anonymous *AnonymousConfig
}

var errCEL = errors.New("CEL expressions are not supported by skiff yet")

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--authentication-config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("--authentication-config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes (strictly: unknown fields are errors) and validates a configuration.
func Parse(data []byte) (*Config, error) {
	var ac AuthenticationConfiguration
	if err := yaml.UnmarshalStrict(data, &ac); err != nil {
		return nil, err
	}
	switch ac.APIVersion {
	case "apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1", "apiserver.config.k8s.io/v1alpha1":
	default:
		return nil, fmt.Errorf("apiVersion %q: want apiserver.config.k8s.io/v1", ac.APIVersion)
	}
	if ac.Kind != "AuthenticationConfiguration" {
		return nil, fmt.Errorf("kind %q: want AuthenticationConfiguration", ac.Kind)
	}
	c := &Config{Anonymous: ac.Anonymous}
	var urls, discoveries []string
	for i, j := range ac.JWT {
		o, err := jwtOptions(j)
		if err != nil {
			return nil, fmt.Errorf("jwt[%d]: %w", i, err)
		}
		if slices.Contains(urls, o.IssuerURL) {
			return nil, fmt.Errorf("jwt[%d].issuer.url: duplicate value %q", i, o.IssuerURL)
		}
		if o.DiscoveryURL != "" && slices.Contains(discoveries, o.DiscoveryURL) {
			return nil, fmt.Errorf("jwt[%d].issuer.discoveryURL: duplicate value %q", i, o.DiscoveryURL)
		}
		urls, discoveries = append(urls, o.IssuerURL), append(discoveries, o.DiscoveryURL)
		c.JWT = append(c.JWT, o)
	}
	if a := ac.Anonymous; a != nil && !a.Enabled && len(a.Conditions) > 0 {
		return nil, errors.New("anonymous.conditions: may only be set when anonymous.enabled is true")
	}
	return c, nil
}

func jwtOptions(j JWTAuthenticator) (oidc.Options, error) {
	is := j.Issuer
	o := oidc.Options{IssuerURL: is.URL, Audiences: is.Audiences, CAPEM: []byte(is.CertificateAuthority)}
	if err := oidc.ValidateIssuerURL(is.URL); err != nil {
		return o, fmt.Errorf("issuer.url: %w", err)
	}
	if is.DiscoveryURL != nil {
		if err := oidc.ValidateIssuerURL(*is.DiscoveryURL); err != nil {
			return o, fmt.Errorf("issuer.discoveryURL: %w", err)
		}
		if *is.DiscoveryURL == is.URL {
			return o, errors.New("issuer.discoveryURL: must be different from issuer.url")
		}
		o.DiscoveryURL = *is.DiscoveryURL
	}
	switch {
	case len(is.Audiences) == 0:
		return o, errors.New("issuer.audiences: Required value")
	case len(is.Audiences) > 1 && is.AudienceMatchPolicy != "MatchAny":
		return o, errors.New(`issuer.audienceMatchPolicy: must be MatchAny for multiple audiences`)
	case is.AudienceMatchPolicy != "" && is.AudienceMatchPolicy != "MatchAny":
		return o, fmt.Errorf("issuer.audienceMatchPolicy: unsupported value %q", is.AudienceMatchPolicy)
	}
	o.RequiredClaims = map[string]string{}
	for i, r := range j.ClaimValidationRules {
		if r.Expression != "" || r.Message != "" {
			return o, fmt.Errorf("claimValidationRules[%d].expression: %w", i, errCEL)
		}
		if r.Claim == "" {
			return o, fmt.Errorf("claimValidationRules[%d].claim: Required value", i)
		}
		if _, dup := o.RequiredClaims[r.Claim]; dup {
			return o, fmt.Errorf("claimValidationRules[%d].claim: duplicate value %q", i, r.Claim)
		}
		o.RequiredClaims[r.Claim] = r.RequiredValue
	}
	m := j.ClaimMappings
	if m.Username.Expression != "" || m.Groups.Expression != "" || m.UID.Expression != "" {
		return o, fmt.Errorf("claimMappings: %w", errCEL)
	}
	if len(m.Extra) > 0 {
		return o, fmt.Errorf("claimMappings.extra: %w", errCEL)
	}
	if len(j.UserValidationRules) > 0 {
		return o, fmt.Errorf("userValidationRules: %w", errCEL)
	}
	if m.Username.Claim == "" {
		return o, errors.New("claimMappings.username.claim: Required value")
	}
	if m.Username.Prefix == nil {
		return o, errors.New("claimMappings.username.prefix: Required value (may be \"\")")
	}
	o.UsernameClaim, o.UsernamePrefix = m.Username.Claim, *m.Username.Prefix
	if m.Groups.Claim != "" {
		if m.Groups.Prefix == nil {
			return o, errors.New("claimMappings.groups.prefix: Required value when claim is set (may be \"\")")
		}
		o.GroupsClaim, o.GroupsPrefix = m.Groups.Claim, *m.Groups.Prefix
	}
	o.UIDClaim = m.UID.Claim
	return o, nil
}
