package serviceaccount

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"

	"skiff/internal/apiserver/audit"
	"skiff/internal/auth"
)

// Legacy (Secret-based) ServiceAccount tokens, as upstream still supports them for Secrets of type
// kubernetes.io/service-account-token created by hand: the tokens controller fills the Secret with a
// non-expiring token signed by the cluster's service account key under the fixed issuer below, and the token
// is valid only while that Secret exists and holds it, and its ServiceAccount exists with the UID it names.
const (
	// LegacyIssuer is the "iss" of Secret-based tokens.
	LegacyIssuer = "kubernetes/serviceaccount"
	// LastUsedLabel is set on a legacy token's Secret to the date (UTC, YYYY-MM-DD) it was last used.
	LastUsedLabel = "kubernetes.io/legacy-token-last-used"
	// InvalidSinceLabel marks a legacy token invalidated (upstream's legacy token cleaner sets it).
	InvalidSinceLabel = "kubernetes.io/legacy-token-invalid-since"
	// LegacyTokenAuditAnnotation names the service account a request used a legacy token of.
	LegacyTokenAuditAnnotation = "authentication.k8s.io/legacy-token"
	// lastUsedFormat is the date format of LastUsedLabel.
	lastUsedFormat = "2006-01-02"
)

// legacyClaims are the private claims of a Secret-based token (upstream's flat names).
type legacyClaims struct {
	ServiceAccountName string `json:"kubernetes.io/serviceaccount/service-account.name"`
	ServiceAccountUID  string `json:"kubernetes.io/serviceaccount/service-account.uid"`
	SecretName         string `json:"kubernetes.io/serviceaccount/secret.name"`
	Namespace          string `json:"kubernetes.io/serviceaccount/namespace"`
}

// IssueLegacy signs a non-expiring token for the ServiceAccount sa, stored in its Secret secretName.
func (i *Issuer) IssueLegacy(sa *corev1.ServiceAccount, secretName string) (string, error) {
	std := jwt.Claims{Issuer: LegacyIssuer, Subject: UserName(sa.Namespace, sa.Name)}
	lc := legacyClaims{ServiceAccountName: sa.Name, ServiceAccountUID: string(sa.UID), SecretName: secretName, Namespace: sa.Namespace}
	return jwt.Signed(i.signer).Claims(std).Claims(lc).Serialize()
}

// LegacyUsed is told that a legacy token of the Secret namespace/name was used and the Secret's
// LastUsedLabel is not today's date; it records the use (asynchronously: authentication must not wait).
type LegacyUsed func(namespace, name, today string)

// validateLegacy checks a token of LegacyIssuer whose signature verified.
func (a *Authenticator) validateLegacy(ctx context.Context, tok string, std *jwt.Claims, lc *legacyClaims, now time.Time) (*auth.User, error) {
	switch {
	case std.Subject == "":
		return nil, errors.New("sub claim is missing")
	case lc.Namespace == "":
		return nil, errors.New("namespace claim is missing")
	case lc.SecretName == "":
		return nil, errors.New("secretName claim is missing")
	case lc.ServiceAccountName == "":
		return nil, errors.New("serviceAccountName claim is missing")
	case lc.ServiceAccountUID == "":
		return nil, errors.New("serviceAccountUID claim is missing")
	}
	if ns, name, ok := SplitUserName(std.Subject); !ok || ns != lc.Namespace || name != lc.ServiceAccountName {
		return nil, errors.New("sub claim is invalid")
	}
	// The token dies with its Secret, and when the Secret no longer holds it.
	secret, err := a.Get.Secret(ctx, lc.Namespace, lc.SecretName)
	if err != nil {
		return nil, errors.New("token has been invalidated")
	}
	if secret.DeletionTimestamp != nil {
		return nil, errors.New("token has been invalidated")
	}
	if subtle.ConstantTimeCompare(secret.Data[corev1.ServiceAccountTokenKey], []byte(tok)) != 1 {
		return nil, errors.New("token does not match server's copy")
	}
	if secret.Labels[InvalidSinceLabel] != "" {
		return nil, errors.New("token has been invalidated")
	}
	sa, err := a.Get.ServiceAccount(ctx, lc.Namespace, lc.ServiceAccountName)
	if err != nil {
		return nil, lookupErr("service account", lc.Namespace+"/"+lc.ServiceAccountName, err)
	}
	if sa.DeletionTimestamp != nil {
		return nil, fmt.Errorf("service account %s/%s has been deleted", lc.Namespace, lc.ServiceAccountName)
	}
	if string(sa.UID) != lc.ServiceAccountUID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, lc.ServiceAccountUID)
	}
	audit.AddAnnotation(ctx, LegacyTokenAuditAnnotation, std.Subject)
	// Usage is recorded at most once a day per Secret, as upstream: only when the label is not today's date
	// (nor tomorrow's, for a server whose clock is behind another's).
	today := now.UTC().Format(lastUsedFormat)
	if last := secret.Labels[LastUsedLabel]; a.LegacyUsed != nil && last != today && last != now.UTC().AddDate(0, 0, 1).Format(lastUsedFormat) {
		a.LegacyUsed(lc.Namespace, lc.SecretName, today)
	}
	return &auth.User{Name: std.Subject, UID: string(sa.UID), Groups: Groups(lc.Namespace)}, nil
}
