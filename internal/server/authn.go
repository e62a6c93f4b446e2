package server

import (
	"context"

	"skiff/internal/auth"
	"skiff/internal/auth/oidc"
	"skiff/internal/auth/tokenfile"
)

// AuthenticationConfig holds the authentication flags beyond client certificates (upstream's names).
type AuthenticationConfig struct {
	// OIDC is used when OIDC.IssuerURL is set (--oidc-*); OIDCRequiredClaims are the raw key=value flags.
	OIDC               oidc.Options
	OIDCRequiredClaims []string
	// AnonymousAuth lets requests without credentials through as system:anonymous (group
	// system:unauthenticated), left to the authorizers; off, they get 401 (--anonymous-auth, default true).
	AnonymousAuth bool
	// TokenAuthFile is a static token CSV (--token-auth-file).
	TokenAuthFile string
}

// authenticator builds the request authenticator, in upstream's order: client certificates, then bearer
// tokens (each token authenticator passes on tokens that are not its kind).
func authenticator(ctx context.Context, cfg AuthenticationConfig) (auth.Authenticator, error) {
	var tokens auth.BearerToken
	if cfg.TokenAuthFile != "" {
		a, err := tokenfile.Load(cfg.TokenAuthFile)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, a)
	}
	if cfg.OIDC.IssuerURL != "" || cfg.OIDC.ClientID != "" {
		o := cfg.OIDC
		rc, err := oidc.ParseRequiredClaims(cfg.OIDCRequiredClaims)
		if err != nil {
			return nil, err
		}
		o.RequiredClaims = rc
		a, err := oidc.New(ctx, o)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, a)
	}
	chain := auth.Chain{auth.X509{}}
	if len(tokens) > 0 {
		chain = append(chain, tokens)
	}
	if cfg.AnonymousAuth {
		return auth.Anonymous{Authenticator: chain}, nil
	}
	return chain, nil
}
