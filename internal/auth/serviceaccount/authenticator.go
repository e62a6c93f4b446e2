package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/apiserver/audit"
	"skiff/internal/auth"
)

// Getter reads the objects a token depends on. NotFound errors (apierrors) mean the object is gone.
type Getter interface {
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	Node(ctx context.Context, name string) (*corev1.Node, error)
}

// Extra keys of a service account user, as upstream.
const (
	ExtraPodName      = "authentication.kubernetes.io/pod-name"
	ExtraPodUID       = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName     = "authentication.kubernetes.io/node-name"
	ExtraNodeUID      = "authentication.kubernetes.io/node-uid"
	ExtraCredentialID = "authentication.kubernetes.io/credential-id"
)

// deletedGrace is how long a token of a bound object that is being deleted stays valid, as upstream (the
// pod's containers may still be stopping).
const deletedGrace = 60 * time.Second

// leeway is the clock skew allowed on exp/nbf/iat, as upstream's (go-jose's default, one minute).
const leeway = jwt.DefaultLeeway

var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512}

// Authenticator accepts Bearer tokens this cluster's issuer signed.
type Authenticator struct {
	// Issuers are accepted "iss" values (every --service-account-issuer); a token of another issuer is not
	// ours and passes to the next authenticator.
	Issuers []string
	// Audiences are the API's audiences: a token must name at least one.
	Audiences []string
	Keys      []PublicKey
	Get       Getter
	Now       func() time.Time
	// LegacyUsed, when set, records the use of a Secret-based token (LegacyIssuer), which is always accepted.
	LegacyUsed LegacyUsed

	staleLogged sync.Map // subject -> time.Time of the last stale-token warning
}

var _ auth.Authenticator = (*Authenticator)(nil)

// BearerToken returns the request's bearer token, if any.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// AuthenticateRequest implements auth.Authenticator.
func (a *Authenticator) AuthenticateRequest(r *http.Request) (*auth.User, bool, error) {
	tok := BearerToken(r)
	if tok == "" || strings.Count(tok, ".") != 2 {
		return nil, false, nil
	}
	parsed, err := jwt.ParseSigned(tok, algorithms)
	if err != nil {
		return nil, false, nil
	}
	var unverified jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&unverified); err != nil ||
		(unverified.Issuer != LegacyIssuer && !slices.Contains(a.Issuers, unverified.Issuer)) {
		return nil, false, nil
	}
	var u *auth.User
	if unverified.Issuer == LegacyIssuer {
		var std jwt.Claims
		var lc legacyClaims
		if err = a.verify(parsed, &std, &lc); err == nil {
			u, err = a.validateLegacy(r.Context(), tok, &std, &lc, a.now())
		}
	} else {
		u, err = a.validate(r.Context(), parsed)
	}
	if err != nil {
		return nil, false, fmt.Errorf("invalid service account token: %w", err)
	}
	return u, true, nil
}

func (a *Authenticator) validate(ctx context.Context, parsed *jwt.JSONWebToken) (*auth.User, error) {
	var std jwt.Claims
	var pc privateClaims
	if err := a.verify(parsed, &std, &pc); err != nil {
		return nil, err
	}
	now := a.now()
	if std.Expiry == nil {
		return nil, errors.New("token has no expiry")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Time: now}, leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return nil, errors.New("service account token has expired")
		}
		return nil, err
	}
	if !slices.ContainsFunc(std.Audience, func(s string) bool { return slices.Contains(a.Audiences, s) }) {
		return nil, errors.New("token audiences is invalid")
	}
	k := pc.Kubernetes
	if k.ServiceAccount == nil || k.Namespace == "" {
		return nil, errors.New("token has no kubernetes.io service account claims")
	}
	if std.Subject != UserName(k.Namespace, k.ServiceAccount.Name) {
		return nil, errors.New("token subject does not match its service account")
	}
	sa, err := a.Get.ServiceAccount(ctx, k.Namespace, k.ServiceAccount.Name)
	if err != nil {
		return nil, lookupErr("service account", k.Namespace+"/"+k.ServiceAccount.Name, err)
	}
	if string(sa.UID) != k.ServiceAccount.UID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, k.ServiceAccount.UID)
	}
	if deletedLongAgo(sa.DeletionTimestamp, now) {
		return nil, fmt.Errorf("service account %s/%s has been deleted", sa.Namespace, sa.Name)
	}
	extra := map[string][]string{}
	if std.ID != "" {
		extra[ExtraCredentialID] = []string{"JTI=" + std.ID}
	}
	if k.Secret != nil {
		s, err := a.Get.Secret(ctx, k.Namespace, k.Secret.Name)
		if err != nil {
			return nil, lookupErr("secret", k.Namespace+"/"+k.Secret.Name, err)
		}
		if string(s.UID) != k.Secret.UID {
			return nil, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", s.UID, k.Secret.UID)
		}
		if deletedLongAgo(s.DeletionTimestamp, now) {
			return nil, fmt.Errorf("secret %s/%s has been deleted", s.Namespace, s.Name)
		}
	}
	if k.Pod != nil {
		p, err := a.Get.Pod(ctx, k.Namespace, k.Pod.Name)
		if err != nil {
			return nil, lookupErr("pod", k.Namespace+"/"+k.Pod.Name, err)
		}
		if string(p.UID) != k.Pod.UID {
			return nil, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", p.UID, k.Pod.UID)
		}
		if deletedLongAgo(p.DeletionTimestamp, now) {
			return nil, fmt.Errorf("pod %s/%s has been deleted", p.Namespace, p.Name)
		}
		extra[ExtraPodName] = []string{k.Pod.Name}
		extra[ExtraPodUID] = []string{k.Pod.UID}
	}
	if k.Node != nil {
		// A pod-bound token's node is informational; a node-bound token dies with its node.
		if k.Pod == nil {
			n, err := a.Get.Node(ctx, k.Node.Name)
			if err != nil {
				return nil, lookupErr("node", k.Node.Name, err)
			}
			if string(n.UID) != k.Node.UID {
				return nil, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", n.UID, k.Node.UID)
			}
		}
		extra[ExtraNodeName] = []string{k.Node.Name}
		if k.Node.UID != "" {
			extra[ExtraNodeUID] = []string{k.Node.UID}
		}
	}
	// A token extended for the safe transition (see ExtendExpiration) used after its requested lifetime: the
	// client does not renew its token; audited as upstream, and logged.
	if k.WarnAfter != nil && now.After(k.WarnAfter.Time()) {
		after := now.Unix() - k.WarnAfter.Time().Unix()
		audit.AddAnnotation(ctx, StaleTokenAuditAnnotation, fmt.Sprintf("subject: %s, seconds after warning threshold: %d", std.Subject, after))
		a.logStale(std.Subject, after, now)
	}
	return &auth.User{Name: std.Subject, UID: string(sa.UID), Groups: Groups(k.Namespace), Extra: extra}, nil
}

// StaleTokenAuditAnnotation marks requests with an extended token past its warnafter time.
const StaleTokenAuditAnnotation = "authentication.k8s.io/stale-token"

// logStale warns about a stale token, once an hour per subject at most.
func (a *Authenticator) logStale(subject string, after int64, now time.Time) {
	if last, ok := a.staleLogged.Load(subject); ok && now.Sub(last.(time.Time)) < time.Hour {
		return
	}
	a.staleLogged.Store(subject, now)
	slog.Warn("stale service account token: used after its requested expiry (extended by --service-account-extend-token-expiration); the client should renew it",
		"subject", subject, "secondsAfterWarning", after)
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// verify checks the signature with the key the token names (kid), or with each key when it names none.
func (a *Authenticator) verify(parsed *jwt.JSONWebToken, out ...any) error {
	kid := ""
	if len(parsed.Headers) > 0 {
		kid = parsed.Headers[0].KeyID
	}
	for _, k := range a.Keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if err := parsed.Claims(k.Key, out...); err == nil {
			return nil
		}
	}
	return errors.New("token signature is invalid")
}

func lookupErr(what, name string, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s has been deleted", what, name)
	}
	return fmt.Errorf("%s %s: %w", what, name, err)
}

func deletedLongAgo(ts *metav1.Time, now time.Time) bool {
	return ts != nil && ts.Time.Before(now.Add(-deletedGrace))
}
