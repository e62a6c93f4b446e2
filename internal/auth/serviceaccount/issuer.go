package serviceaccount

import (
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// Issuer signs bound ServiceAccount tokens.
type Issuer struct {
	keys   *Keys
	signer jose.Signer
	// Issuer is the "iss" claim (the first --service-account-issuer).
	Issuer string
	// APIAudiences are the audiences of the API itself (--api-audiences), the default of a TokenRequest.
	APIAudiences []string
	// MaxExpiration caps requested lifetimes (0: no cap), as --service-account-max-token-expiration.
	MaxExpiration time.Duration
	// ExtendExpiration, as --service-account-extend-token-expiration: a pod-bound token for API audiences asked
	// for exactly WarnOnlyBoundTokenExpiration is valid ExpirationExtension, with a warnafter claim at the
	// requested expiry (the expiry Issue reports).
	ExtendExpiration bool
	Now              func() time.Time
}

// Upstream's safe transition to expiring tokens: the node agent asks for 3607 s (an hour and 7 s, a value
// nobody else uses); such a token is valid a year, and its use after the hour is audited as stale.
const (
	WarnOnlyBoundTokenExpiration = 3607 * time.Second
	ExpirationExtension          = 365 * 24 * time.Hour
)

// NewIssuer builds an issuer over keys.
func NewIssuer(keys *Keys, issuer string, audiences []string, maxExpiration time.Duration) (*Issuer, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: keys.Alg, Key: jose.JSONWebKey{Key: keys.Signer, KeyID: keys.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("service account token signer: %w", err)
	}
	return &Issuer{keys: keys, signer: s, Issuer: issuer, APIAudiences: audiences, MaxExpiration: maxExpiration, Now: time.Now}, nil
}

// Keys returns the keys tokens are signed and verified with.
func (i *Issuer) Keys() *Keys { return i.keys }

// Request is what a token is issued for.
type Request struct {
	Namespace, Name, UID string // the ServiceAccount
	Audiences            []string
	Expiration           time.Duration
	Bound                Binding
}

// Issue signs a token; it returns the token and its expiry (the lifetime is capped by MaxExpiration). With
// ExtendExpiration the token itself may live longer than the returned expiry (see ExtendExpiration).
func (i *Issuer) Issue(r Request) (string, time.Time, error) {
	now := i.Now()
	exp := r.Expiration
	if i.MaxExpiration > 0 && exp > i.MaxExpiration {
		exp = i.MaxExpiration
	}
	expiry := now.Add(exp)
	tokenExpiry := expiry
	var warnAfter *jwt.NumericDate
	if i.ExtendExpiration && r.Bound.Kind == "Pod" && exp == WarnOnlyBoundTokenExpiration && subset(r.Audiences, i.APIAudiences) {
		warnAfter = jwt.NewNumericDate(expiry)
		tokenExpiry = now.Add(ExpirationExtension)
	}
	pc := privateClaims{Kubernetes: kubernetesClaims{
		Namespace:      r.Namespace,
		ServiceAccount: &ref{Name: r.Name, UID: r.UID},
		WarnAfter:      warnAfter,
	}}
	b := r.Bound
	switch b.Kind {
	case "Pod":
		pc.Kubernetes.Pod = &ref{Name: b.Name, UID: b.UID}
		if b.NodeName != "" {
			pc.Kubernetes.Node = &ref{Name: b.NodeName, UID: b.NodeUID}
		}
	case "Secret":
		pc.Kubernetes.Secret = &ref{Name: b.Name, UID: b.UID}
	case "Node":
		pc.Kubernetes.Node = &ref{Name: b.Name, UID: b.UID}
	}
	std := jwt.Claims{
		Issuer:    i.Issuer,
		Subject:   UserName(r.Namespace, r.Name),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(tokenExpiry),
		ID:        uuid.NewString(),
	}
	// "aud" is always a list, as upstream's tokens have it (go-jose writes a single audience as a string).
	aud := struct {
		Audience []string `json:"aud"`
	}{r.Audiences}
	tok, err := jwt.Signed(i.signer).Claims(std).Claims(aud).Claims(pc).Serialize()
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, expiry.Truncate(time.Second), nil
}

// subset says whether every audience is one of the API's.
func subset(audiences, api []string) bool {
	for _, a := range audiences {
		if !slices.Contains(api, a) {
			return false
		}
	}
	return true
}
