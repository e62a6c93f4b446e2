package join

import (
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	bootstraptoken "skiff/internal/auth/bootstrap"
)

// Bootstrap token Secret keys and defaults, as kubeadm's (k8s.io/cluster-bootstrap/token/api).
const (
	KeyDescription      = "description"
	UsagePrefix         = "usage-bootstrap-"
	DefaultTTL          = 24 * time.Hour
	DefaultGroup        = "system:bootstrappers:kubeadm:default-node-token"
	tokenAlphabet       = "0123456789abcdefghijklmnopqrstuvwxyz"
	tokenIDLength       = 6
	tokenSecretLength   = 16
	bootstrapGroupRegex = `^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`
)

// DefaultUsages are what `kubeadm token create` gives a token by default.
var DefaultUsages = []string{"signing", "authentication"}

var (
	tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	idRE    = regexp.MustCompile(`^[a-z0-9]{6}$`)
	groupRE = regexp.MustCompile(bootstrapGroupRegex)
	// knownUsages are the usages a bootstrap token may carry.
	knownUsages = []string{"authentication", "signing"}
)

// Token is a bootstrap token "<id>.<secret>".
type Token struct{ ID, Secret string }

func (t Token) String() string { return t.ID + "." + t.Secret }

// ParseToken checks the form [a-z0-9]{6}.[a-z0-9]{16}.
func ParseToken(s string) (Token, error) {
	m := tokenRE.FindStringSubmatch(s)
	if m == nil {
		return Token{}, fmt.Errorf("the bootstrap token %q was not of the form %q", s, `[a-z0-9]{6}.[a-z0-9]{16}`)
	}
	return Token{ID: m[1], Secret: m[2]}, nil
}

// ValidTokenID says whether s can be a token id (what `token delete` accepts besides a whole token).
func ValidTokenID(s string) bool { return idRE.MatchString(s) }

// GenerateToken returns a random token from crypto/rand.
func GenerateToken() (Token, error) {
	id, err := randomString(tokenIDLength)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomString(tokenSecretLength)
	if err != nil {
		return Token{}, err
	}
	return Token{ID: id, Secret: secret}, nil
}

func randomString(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 1)
	// Rejection sampling: bytes of 252 and above would bias the alphabet of 36.
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		if buf[0] < 252 {
			out = append(out, tokenAlphabet[int(buf[0])%len(tokenAlphabet)])
		}
	}
	return string(out), nil
}

// TokenOptions are what `skiff token create` takes besides the token.
type TokenOptions struct {
	// TTL 0 means the token never expires.
	TTL         time.Duration
	Description string
	Usages      []string
	Groups      []string
}

// Secret returns the kube-system Secret that holds tok, as kubeadm writes it.
func (o TokenOptions) Secret(tok Token, now time.Time) (*corev1.Secret, error) {
	data := map[string][]byte{
		bootstraptoken.KeyTokenID:     []byte(tok.ID),
		bootstraptoken.KeyTokenSecret: []byte(tok.Secret),
	}
	if o.Description != "" {
		data[KeyDescription] = []byte(o.Description)
	}
	if o.TTL < 0 {
		return nil, errors.New("the token TTL must not be negative")
	}
	if o.TTL > 0 {
		data[bootstraptoken.KeyExpiration] = []byte(now.Add(o.TTL).UTC().Format(time.RFC3339))
	}
	for _, u := range o.Usages {
		u = strings.TrimSpace(u)
		if !slices.Contains(knownUsages, u) {
			return nil, fmt.Errorf("invalid bootstrap token usage string: %s, valid usage options: %s", u, strings.Join(knownUsages, ","))
		}
		data[UsagePrefix+u] = []byte("true")
	}
	var groups []string
	for _, g := range o.Groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if !groupRE.MatchString(g) {
			return nil, fmt.Errorf("group %q must match %s", g, bootstrapGroupRegex)
		}
		groups = append(groups, g)
	}
	if len(groups) > 0 {
		if !slices.Contains(o.Usages, "authentication") {
			return nil, errors.New("token groups cannot be specified unless the usages include \"authentication\"")
		}
		data[bootstraptoken.KeyExtraGroups] = []byte(strings.Join(groups, ","))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraptoken.SecretPrefix + tok.ID, Namespace: bootstraptoken.Namespace},
		Type:       bootstraptoken.SecretType,
		Data:       data,
	}, nil
}

// TokenRow is one line of `skiff token list`: kubeadm's columns TOKEN TTL EXPIRES USAGES DESCRIPTION EXTRA
// GROUPS.
type TokenRow struct{ Token, TTL, Expires, Usages, Description, ExtraGroups string }

// ListHeader is the header line of `skiff token list`.
var ListHeader = TokenRow{"TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"}

// RowFor describes a bootstrap token Secret; ok is false for Secrets that are not well-formed tokens (kubeadm
// skips those with a warning).
func RowFor(s *corev1.Secret, now time.Time) (TokenRow, bool) {
	if s.Type != bootstraptoken.SecretType || !strings.HasPrefix(s.Name, bootstraptoken.SecretPrefix) {
		return TokenRow{}, false
	}
	id, secret := string(s.Data[bootstraptoken.KeyTokenID]), string(s.Data[bootstraptoken.KeyTokenSecret])
	if _, err := ParseToken(id + "." + secret); err != nil || s.Name != bootstraptoken.SecretPrefix+id {
		return TokenRow{}, false
	}
	r := TokenRow{Token: id + "." + secret, TTL: "<forever>", Expires: "<never>", Description: "<none>", ExtraGroups: "<none>"}
	if exp, bad := bootstraptoken.Expiration(s); bad {
		r.TTL, r.Expires = "<invalid>", string(s.Data[bootstraptoken.KeyExpiration])
	} else if !exp.IsZero() {
		r.Expires = exp.UTC().Format(time.RFC3339)
		if left := exp.Sub(now); left > 0 {
			r.TTL = duration.ShortHumanDuration(left)
		} else {
			r.TTL = "<invalid>"
		}
	}
	var usages []string
	for k, v := range s.Data {
		if u, ok := strings.CutPrefix(k, UsagePrefix); ok && string(v) == "true" {
			usages = append(usages, u)
		}
	}
	slices.Sort(usages)
	r.Usages = strings.Join(usages, ",")
	if d := string(s.Data[KeyDescription]); d != "" {
		r.Description = d
	}
	if g := string(s.Data[bootstraptoken.KeyExtraGroups]); g != "" {
		r.ExtraGroups = g
	}
	return r, true
}
