package main

import (
	"github.com/spf13/pflag"

	"skiff/internal/server"
)

// addAuthenticationFlags registers upstream kube-apiserver's authentication flags.
func addAuthenticationFlags(f *pflag.FlagSet, c *server.AuthenticationConfig) {
	f.BoolVar(&c.AnonymousAuth, "anonymous-auth", true, "requests without credentials are system:anonymous (group system:unauthenticated) and left to authorization; false: they get 401")
	f.StringVar(&c.ConfigFile, "authentication-config", "", "AuthenticationConfiguration file (apiserver.config.k8s.io/v1): JWT issuers with claim mappings, CEL rules and mappings, and the anonymous section; exclusive with --oidc-*")
	f.StringVar(&c.TokenAuthFile, "token-auth-file", "", "static bearer tokens: a CSV file of token,user,uid,\"group1,group2\" lines, read at start")
	f.BoolVar(&c.BootstrapTokenAuth, "enable-bootstrap-token-auth", true, "accept bootstrap tokens (<id>.<secret>, kube-system Secrets bootstrap-token-<id> of type bootstrap.kubernetes.io/token) as bearer tokens")
	f.StringVar(&c.OIDC.IssuerURL, "oidc-issuer-url", "", "URL of the OpenID Connect issuer (https); its ID tokens are accepted as bearer tokens (with --oidc-client-id)")
	f.StringVar(&c.OIDC.ClientID, "oidc-client-id", "", "client ID the OIDC tokens must have in their aud claim")
	f.StringVar(&c.OIDC.CAFile, "oidc-ca-file", "", "CA bundle to verify the OIDC issuer's certificate (default: the system roots)")
	f.StringVar(&c.OIDC.UsernameClaim, "oidc-username-claim", "sub", "OIDC claim used as the user name")
	f.StringVar(&c.OIDC.UsernamePrefix, "oidc-username-prefix", "", "prefix of OIDC user names (default: \"<issuer-url>#\" unless the claim is email; \"-\": no prefix)")
	f.StringVar(&c.OIDC.GroupsClaim, "oidc-groups-claim", "", "OIDC claim holding the user's groups (a string or a list of strings)")
	f.StringVar(&c.OIDC.GroupsPrefix, "oidc-groups-prefix", "", "prefix of OIDC group names")
	f.StringArrayVar(&c.OIDC.RequiredClaims, "oidc-required-claim", nil, "key=value a token must carry to be accepted (repeatable)")
	f.StringSliceVar(&c.OIDC.SigningAlgs, "oidc-signing-algs", []string{"RS256"}, "JOSE signature algorithms OIDC tokens may use (RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512)")
}
