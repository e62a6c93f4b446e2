package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// errNotReady is returned for tokens of our issuer while its discovery document and keys are still unknown.
var errNotReady = errors.New("oidc: authenticator not initialized: the issuer's keys are not fetched yet")

// keySet is the issuer's JWKS, discovered once and refetched when a token names a key it does not hold.
type keySet struct {
	issuer       string
	discoveryURL string // "" = <issuer>/.well-known/openid-configuration
	client       *http.Client
	now          func() time.Time
	// minRefresh is the least time between two JWKS fetches, so tokens with made-up kids cannot make us
	// hammer the issuer.
	minRefresh time.Duration

	mu        sync.RWMutex
	jwksURI   string
	keys      []jose.JSONWebKey
	lastFetch time.Time

	fetchMu     sync.Mutex // one fetch at a time
	lastAttempt time.Time  // guarded by fetchMu; failed fetches count for the rate limit too
}

// discover reads the discovery document and the first JWKS.
func (k *keySet) discover(ctx context.Context) error {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	discovery := k.discoveryURL
	if discovery == "" {
		discovery = strings.TrimSuffix(k.issuer, "/") + "/.well-known/openid-configuration"
	}
	if err := k.getJSON(ctx, discovery, &doc); err != nil {
		return err
	}
	if doc.Issuer != k.issuer {
		return fmt.Errorf("oidc: issuer did not match the issuer returned by provider, expected %q got %q", k.issuer, doc.Issuer)
	}
	if doc.JWKSURI == "" {
		return fmt.Errorf("oidc: discovery document of %q has no jwks_uri", k.issuer)
	}
	k.mu.Lock()
	k.jwksURI = doc.JWKSURI
	k.mu.Unlock()
	_, err := k.refresh(ctx, time.Time{})
	return err
}

func (k *keySet) ready() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return !k.lastFetch.IsZero()
}

// candidates returns the signing keys that may have signed a token with this kid ("" = any), and when they
// were fetched.
func (k *keySet) candidates(kid string) ([]jose.JSONWebKey, time.Time) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if (kid == "" || key.KeyID == kid) && (key.Use == "" || key.Use == "sig") {
			out = append(out, key)
		}
	}
	return out, k.lastFetch
}

// refresh fetches the JWKS unless someone fetched it after `since` (then the caller just retries with the new
// keys) or the last fetch is younger than minRefresh. It says whether the keys may have changed.
func (k *keySet) refresh(ctx context.Context, since time.Time) (bool, error) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.RLock()
	last, uri := k.lastFetch, k.jwksURI
	k.mu.RUnlock()
	if !since.IsZero() && last.After(since) {
		return true, nil
	}
	if !last.IsZero() && k.now().Sub(k.lastAttempt) < k.minRefresh {
		return false, nil
	}
	k.lastAttempt = k.now()
	var set jose.JSONWebKeySet
	if err := k.getJSON(ctx, uri, &set); err != nil {
		return false, err
	}
	k.mu.Lock()
	k.keys, k.lastFetch = set.Keys, k.now()
	k.mu.Unlock()
	return true, nil
}

func (k *keySet) getJSON(ctx context.Context, url string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("oidc: fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("oidc: reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("oidc: fetching %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("oidc: decoding %s: %w", url, err)
	}
	return nil
}
