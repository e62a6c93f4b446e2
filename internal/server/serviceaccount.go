package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/apiserver"
	"skiff/internal/auth/serviceaccount"
)

// serviceAccountTokens loads (or generates, in <data-dir>/tls) the service account signing key and builds
// the token issuer and the token authenticator. The authenticator's Getter is set once the API exists.
func serviceAccountTokens(cfg Config) (*serviceaccount.Issuer, *serviceaccount.Authenticator, *legacyTokenTracker, error) {
	keys, err := serviceaccount.LoadKeys(filepath.Join(cfg.DataDir, "tls"), cfg.ServiceAccountSigningKeyFile, cfg.ServiceAccountKeyFiles)
	if err != nil {
		return nil, nil, nil, err
	}
	issuers := cfg.ServiceAccountIssuers
	for _, iss := range issuers {
		if iss == "" {
			return nil, nil, nil, fmt.Errorf("--service-account-issuer may not be empty")
		}
	}
	issuer, err := serviceaccount.NewIssuer(keys, issuers[0], cfg.APIAudiences, cfg.ServiceAccountMaxTokenExpiration)
	if err != nil {
		return nil, nil, nil, err
	}
	issuer.ExtendExpiration = *cfg.ServiceAccountExtendTokenExpiration
	if max := cfg.ServiceAccountMaxTokenExpiration; issuer.ExtendExpiration && max > 0 {
		// As upstream, at start.
		if max < serviceaccount.WarnOnlyBoundTokenExpiration {
			slog.Warn(fmt.Sprintf("service-account-extend-token-expiration is true, in order to correctly trigger safe transition logic, service-account-max-token-expiration must be set longer than %d seconds (currently %s)",
				int(serviceaccount.WarnOnlyBoundTokenExpiration/time.Second), max))
		}
		if max < serviceaccount.ExpirationExtension {
			slog.Warn(fmt.Sprintf("service-account-extend-token-expiration is true, enabling tokens valid up to %d seconds, which is longer than service-account-max-token-expiration set to %s",
				int(serviceaccount.ExpirationExtension/time.Second), max))
		}
	}
	tracker := &legacyTokenTracker{done: map[string]string{}}
	authn := &serviceaccount.Authenticator{Issuers: issuers, Audiences: cfg.APIAudiences, Keys: keys.Publics, LegacyUsed: tracker.used}
	return issuer, authn, tracker, nil
}

// legacyTokenTracker labels the Secret of a used legacy token with the day's date
// (kubernetes.io/legacy-token-last-used), as upstream's authenticator: in the background, once a day per Secret
// at most (the authenticator asks only when the label is stale; the tracker also remembers what it already
// wrote, as the watch cache may lag a moment). Nothing is written until the client is set.
type legacyTokenTracker struct {
	client atomic.Pointer[kubernetes.Clientset]
	mu     sync.Mutex
	done   map[string]string // namespace/name -> date written
}

func (t *legacyTokenTracker) start(client *kubernetes.Clientset) { t.client.Store(client) }

func (t *legacyTokenTracker) used(namespace, name, today string) {
	c := t.client.Load()
	if c == nil {
		return
	}
	key := namespace + "/" + name
	t.mu.Lock()
	if t.done[key] == today {
		t.mu.Unlock()
		return
	}
	if len(t.done) > 10000 { // forget yesterday's
		clear(t.done)
	}
	t.done[key] = today
	t.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, serviceaccount.LastUsedLabel, today)
		if _, err := c.CoreV1().Secrets(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			slog.Debug("legacy service account token: recording last use", "secret", key, "err", err)
			t.mu.Lock()
			delete(t.done, key)
			t.mu.Unlock()
		}
	}()
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
