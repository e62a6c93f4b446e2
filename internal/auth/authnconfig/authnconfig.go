// Package authnconfig reads upstream's structured authentication configuration (--authentication-config): an
// AuthenticationConfiguration of apiserver.config.k8s.io/v1 (or v1beta1, v1alpha1) with JWT issuers and the
// anonymous section, claim-based and CEL-based (claim validation rules, username/groups/uid/extra mapping
// expressions, user validation rules: compiled here, at start, so a bad expression stops the server with the
// field path; run by internal/auth/oidc). The file is read once at start (upstream reloads it when it
// changes).
package authnconfig

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
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
	// ClaimValidationRule requires a claim value, or a CEL expression over claims to be true.
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
	// PrefixedClaimOrExpression is a claim with a prefix, or a CEL expression over claims.
	PrefixedClaimOrExpression struct {
		Claim      string  `json:"claim,omitempty"`
		Prefix     *string `json:"prefix,omitempty"`
		Expression string  `json:"expression,omitempty"`
	}
	// ClaimOrExpression is a claim, or a CEL expression over claims.
	ClaimOrExpression struct {
		Claim      string `json:"claim,omitempty"`
		Expression string `json:"expression,omitempty"`
	}
	// ExtraMapping is a CEL mapping (over claims) to a user extra key.
	ExtraMapping struct {
		Key             string `json:"key"`
		ValueExpression string `json:"valueExpression"`
	}
	// UserValidationRule is a CEL rule over the mapped user.
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
			return nil, fmt.Errorf("jwt[%d].%w", i, err)
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
	if err := claimValidationRules(&o, j.ClaimValidationRules); err != nil {
		return o, err
	}
	if err := claimMappings(&o, j.ClaimMappings); err != nil {
		return o, err
	}
	if err := userValidationRules(&o, j.UserValidationRules); err != nil {
		return o, err
	}
	return o, emailVerified(o)
}

// claimValidationRules: each rule is a claim with its required value, or an expression with a message.
func claimValidationRules(o *oidc.Options, rules []ClaimValidationRule) error {
	o.RequiredClaims = map[string]string{}
	seen := map[string]bool{}
	for i, r := range rules {
		path := fmt.Sprintf("claimValidationRules[%d]", i)
		switch {
		case r.Claim != "" && r.Expression != "":
			return fmt.Errorf("%s: claim and expression can't both be set", path)
		case r.Claim == "" && r.Expression == "":
			return fmt.Errorf("%s: Required value: claim or expression is required", path)
		case r.Claim != "":
			if r.Message != "" {
				return fmt.Errorf("%s.message: may not be specified when claim is set", path)
			}
			if _, dup := o.RequiredClaims[r.Claim]; dup {
				return fmt.Errorf("%s.claim: duplicate value %q", path, r.Claim)
			}
			o.RequiredClaims[r.Claim] = r.RequiredValue
		default:
			if r.RequiredValue != "" {
				return fmt.Errorf("%s.requiredValue: may not be specified when expression is set", path)
			}
			if seen[r.Expression] {
				return fmt.Errorf("%s.expression: duplicate value %q", path, r.Expression)
			}
			seen[r.Expression] = true
			e, err := oidc.CompileClaims(r.Expression, oidc.ResultBool)
			if err != nil {
				return fmt.Errorf("%s.expression: %w", path, err)
			}
			e.Message = r.Message
			o.ClaimValidationRules = append(o.ClaimValidationRules, e)
		}
	}
	return nil
}

// claimMappings: username and groups are a claim with a prefix or an expression (no prefix); uid a claim or an
// expression; extra keys are domain-prefixed lowercase paths outside kubernetes.io and k8s.io.
func claimMappings(o *oidc.Options, m ClaimMappings) error {
	var err error
	if o.UsernameClaim, o.UsernamePrefix, o.UsernameExpression, err = prefixed(m.Username, "claimMappings.username", true, oidc.ResultString); err != nil {
		return err
	}
	if o.GroupsClaim, o.GroupsPrefix, o.GroupsExpression, err = prefixed(m.Groups, "claimMappings.groups", false, oidc.ResultStrings); err != nil {
		return err
	}
	switch {
	case m.UID.Claim != "" && m.UID.Expression != "":
		return errors.New("claimMappings.uid: claim and expression can't both be set")
	case m.UID.Expression != "":
		if o.UIDExpression, err = oidc.CompileClaims(m.UID.Expression, oidc.ResultString); err != nil {
			return fmt.Errorf("claimMappings.uid.expression: %w", err)
		}
	default:
		o.UIDClaim = m.UID.Claim
	}
	seen := map[string]bool{}
	for i, x := range m.Extra {
		path := fmt.Sprintf("claimMappings.extra[%d]", i)
		if err := validateExtraKey(x.Key); err != nil {
			return fmt.Errorf("%s.key: %w", path, err)
		}
		if seen[x.Key] {
			return fmt.Errorf("%s.key: duplicate value %q", path, x.Key)
		}
		seen[x.Key] = true
		if x.ValueExpression == "" {
			return fmt.Errorf("%s.valueExpression: Required value", path)
		}
		e, err := oidc.CompileClaims(x.ValueExpression, oidc.ResultStrings)
		if err != nil {
			return fmt.Errorf("%s.valueExpression: %w", path, err)
		}
		o.Extra = append(o.Extra, oidc.ExtraMapping{Key: x.Key, Value: e})
	}
	return nil
}

// prefixed reads a PrefixedClaimOrExpression: claim XOR expression; the prefix is required with a claim (it
// may be "") and forbidden with an expression.
func prefixed(p PrefixedClaimOrExpression, path string, required bool, kind oidc.ResultKind) (claim, prefix string, e *oidc.Expression, err error) {
	switch {
	case p.Claim != "" && p.Expression != "":
		return "", "", nil, fmt.Errorf("%s: claim and expression can't both be set", path)
	case p.Expression != "":
		if p.Prefix != nil {
			return "", "", nil, fmt.Errorf("%s.prefix: may not be specified when expression is set", path)
		}
		if e, err = oidc.CompileClaims(p.Expression, kind); err != nil {
			return "", "", nil, fmt.Errorf("%s.expression: %w", path, err)
		}
		return "", "", e, nil
	case p.Claim != "":
		if p.Prefix == nil {
			return "", "", nil, fmt.Errorf("%s.prefix: Required value: prefix is required when claim is set. It can be set to an empty string to disable prefixing", path)
		}
		return p.Claim, *p.Prefix, nil, nil
	case required:
		return "", "", nil, fmt.Errorf("%s: Required value: claim or expression is required", path)
	}
	return "", "", nil, nil
}

// validateExtraKey applies upstream's rules for claimMappings.extra[].key.
func validateExtraKey(key string) error {
	if errs := validation.IsDomainPrefixedPath(field.NewPath("key"), key); len(errs) > 0 {
		return errors.New(strings.TrimPrefix(errs.ToAggregate().Error(), "key: "))
	}
	if key != strings.ToLower(key) {
		return fmt.Errorf("invalid value %q: must be lowercase", key)
	}
	domain, _, _ := strings.Cut(key, "/")
	for _, reserved := range []string{"kubernetes.io", "k8s.io"} {
		if domain == reserved || strings.HasSuffix(domain, "."+reserved) {
			return fmt.Errorf("invalid value %q: k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use", key)
		}
	}
	return nil
}

// userValidationRules compile the rules over the mapped user.
func userValidationRules(o *oidc.Options, rules []UserValidationRule) error {
	seen := map[string]bool{}
	for i, r := range rules {
		path := fmt.Sprintf("userValidationRules[%d].expression", i)
		if r.Expression == "" {
			return fmt.Errorf("%s: Required value", path)
		}
		if seen[r.Expression] {
			return fmt.Errorf("%s: duplicate value %q", path, r.Expression)
		}
		seen[r.Expression] = true
		e, err := oidc.CompileUser(r.Expression)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		e.Message = r.Message
		o.UserValidationRules = append(o.UserValidationRules, e)
	}
	return nil
}

// emailVerified is upstream's rule: a username expression using claims.email needs claims.email_verified used
// by the username expression, an extra mapping or a claim validation rule (a username claim "email" checks
// email_verified itself).
func emailVerified(o oidc.Options) error {
	if o.UsernameExpression == nil || !o.UsernameExpression.UsesClaim("email") {
		return nil
	}
	uses := o.UsernameExpression.UsesClaim("email_verified")
	for _, x := range o.Extra {
		uses = uses || x.Value.UsesClaim("email_verified")
	}
	for _, r := range o.ClaimValidationRules {
		uses = uses || r.UsesClaim("email_verified")
	}
	if !uses {
		return errors.New("claimMappings.username.expression: claims.email_verified must be used in claimMappings.username.expression or claimMappings.extra[*].valueExpression or claimValidationRules[*].expression when claims.email is used in claimMappings.username.expression")
	}
	return nil
}
