// Package bootstrap authenticates bootstrap tokens, as upstream: short-lived bearer tokens "<id>.<secret>"
// stored as Secrets kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token, used by nodes to
// join. The authenticator reads Secrets from an informer's cache (never the API per request); the token
// cleaner controller (internal/controller/tokencleaner) deletes them once expired.
//
//	"abcdef.0123456789abcdef" ─▶ Secret bootstrap-token-abcdef (type, token-id, token-secret,
//	expiration, usage-bootstrap-authentication=true) ─▶ system:bootstrap:abcdef in system:bootstrappers
//	(+ auth-extra-groups)
package bootstrap

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff/internal/auth"
)

// Upstream's names (k8s.io/cluster-bootstrap/token/api).
const (
	Namespace              = "kube-system"
	SecretType             = corev1.SecretTypeBootstrapToken
	SecretPrefix           = "bootstrap-token-"
	KeyTokenID             = "token-id"
	KeyTokenSecret         = "token-secret"
	KeyExpiration          = "expiration"
	KeyUsageAuthentication = "usage-bootstrap-authentication"
	KeyExtraGroups         = "auth-extra-groups"
	UserPrefix             = "system:bootstrap:"
	DefaultGroup           = "system:bootstrappers"
)

var (
	tokenRE      = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	extraGroupRE = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
)

// SecretGetter reads Secrets of kube-system, typically a lister (client-go's SecretNamespaceLister fits).
type SecretGetter interface {
	Get(name string) (*corev1.Secret, error)
}

// Authenticator accepts valid bootstrap tokens.
type Authenticator struct {
	Secrets SecretGetter
	Now     func() time.Time
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

// AuthenticateToken implements auth.TokenAuthenticator. As upstream, a token of the right form without a
// valid Secret is simply not ours (the request then fails as an invalid bearer token).
func (a *Authenticator) AuthenticateToken(_ context.Context, token string) (*auth.User, bool, error) {
	m := tokenRE.FindStringSubmatch(token)
	if m == nil || a.Secrets == nil {
		return nil, false, nil
	}
	id, secret := m[1], m[2]
	s, err := a.Secrets.Get(SecretPrefix + id)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	refuse := func(why string) (*auth.User, bool, error) {
		slog.Debug("bootstrap token refused", "secret", Namespace+"/"+s.Name, "why", why)
		return nil, false, nil
	}
	switch {
	case s.DeletionTimestamp != nil:
		return refuse("is deleted and awaiting removal")
	case s.Type != SecretType || s.Data == nil:
		return refuse("has invalid type")
	case subtle.ConstantTimeCompare(s.Data[KeyTokenSecret], []byte(secret)) != 1:
		return refuse("has invalid value for key " + KeyTokenSecret)
	case string(s.Data[KeyTokenID]) != id:
		return refuse("has invalid value for key " + KeyTokenID)
	case Expired(s, a.now()):
		return refuse("has expired")
	case string(s.Data[KeyUsageAuthentication]) != "true":
		return refuse("not marked " + KeyUsageAuthentication + "=true")
	}
	groups, err := Groups(s)
	if err != nil {
		return refuse(err.Error())
	}
	return &auth.User{Name: UserPrefix + id, Groups: groups}, true, nil
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Expiration returns when the token expires, or the zero time if it never does. An expiration that does not
// parse counts as already expired, as upstream.
func Expiration(s *corev1.Secret) (t time.Time, bad bool) {
	raw := string(s.Data[KeyExpiration])
	if raw == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, true
	}
	return t, false
}

// Expired says whether the token of s has expired at now.
func Expired(s *corev1.Secret, now time.Time) bool {
	t, bad := Expiration(s)
	return bad || (!t.IsZero() && !now.Before(t))
}

// Groups returns system:bootstrappers plus the valid auth-extra-groups, sorted and without duplicates.
func Groups(s *corev1.Secret) ([]string, error) {
	groups := []string{DefaultGroup}
	for _, g := range strings.Split(string(s.Data[KeyExtraGroups]), ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if !extraGroupRE.MatchString(g) {
			return nil, fmt.Errorf("has invalid value for key %s: %q must match %s", KeyExtraGroups, g, extraGroupRE)
		}
		groups = append(groups, g)
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}
