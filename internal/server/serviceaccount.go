package server

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"

	"skiff/internal/apiserver"
	"skiff/internal/auth/serviceaccount"
)

// serviceAccountTokens loads (or generates, in <data-dir>/tls) the service account signing key and builds
// the token issuer and the token authenticator. The authenticator's Getter is set once the API exists.
func serviceAccountTokens(cfg Config) (*serviceaccount.Issuer, *serviceaccount.Authenticator, error) {
	keys, err := serviceaccount.LoadKeys(filepath.Join(cfg.DataDir, "tls"), cfg.ServiceAccountSigningKeyFile, cfg.ServiceAccountKeyFiles)
	if err != nil {
		return nil, nil, err
	}
	issuers := cfg.ServiceAccountIssuers
	for _, iss := range issuers {
		if iss == "" {
			return nil, nil, fmt.Errorf("--service-account-issuer may not be empty")
		}
	}
	issuer, err := serviceaccount.NewIssuer(keys, issuers[0], cfg.APIAudiences, cfg.ServiceAccountMaxTokenExpiration)
	if err != nil {
		return nil, nil, err
	}
	authn := &serviceaccount.Authenticator{Issuers: issuers, Audiences: cfg.APIAudiences, Keys: keys.Publics}
	return issuer, authn, nil
}

// serveOIDCDiscovery publishes /.well-known/openid-configuration and /openid/v1/jwks when the issuer is an
// https URL, as upstream. The JWKS URI defaults to this server's advertised address.
func serveOIDCDiscovery(api *apiserver.Server, cfg Config, issuer *serviceaccount.Issuer) error {
	u, err := url.Parse(issuer.Issuer)
	if err != nil || u.Scheme != "https" {
		return nil
	}
	jwksURI := cfg.ServiceAccountJWKSURI
	if jwksURI == "" {
		jwksURI = (&url.URL{Scheme: "https", Host: net.JoinHostPort(cfg.AdvertiseAddress, strconv.Itoa(cfg.HTTPSPort)), Path: serviceaccount.JWKSPath}).String()
	}
	conf, jwks, err := serviceaccount.DiscoveryHandlers(issuer.Issuer, jwksURI, issuer.Keys().Publics)
	if err != nil {
		return err
	}
	api.Handle(serviceaccount.OpenIDConfigPath, conf)
	api.Handle(serviceaccount.JWKSPath, jwks)
	return nil
}
