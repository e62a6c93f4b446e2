package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type secrets map[string]*corev1.Secret

func (m secrets) Get(name string) (*corev1.Secret, error) {
	if s, ok := m[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

// tokenSecret builds a valid Secret for abcdef.0123456789abcdef; edit changes it.
func tokenSecret(edit func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: Namespace}, Type: SecretType,
		Data: map[string][]byte{KeyTokenID: []byte("abcdef"), KeyTokenSecret: []byte("0123456789abcdef"),
			KeyUsageAuthentication: []byte("true"), KeyExpiration: []byte("2030-01-01T00:00:00Z"),
			KeyExtraGroups: []byte("system:bootstrappers:worker, system:bootstrappers:kubeadm:default-node-token")}}
	if edit != nil {
		edit(s)
	}
	return s
}

func TestAuthenticateToken(t *testing.T) {
	now := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	const token = "abcdef.0123456789abcdef"
	cases := []struct {
		name   string
		token  string
		edit   func(*corev1.Secret)
		ok     bool
		groups string
	}{
		{name: "valid", token: token, ok: true, groups: "system:bootstrappers,system:bootstrappers:kubeadm:default-node-token,system:bootstrappers:worker"},
		{name: "no expiration", token: token, edit: func(s *corev1.Secret) { delete(s.Data, KeyExpiration); delete(s.Data, KeyExtraGroups) }, ok: true, groups: "system:bootstrappers"},
		{name: "wrong form", token: "abcdef.0123456789ABCDEF"},
		{name: "unknown id", token: "zzzzzz.0123456789abcdef"},
		{name: "wrong secret", token: "abcdef.0123456789abcdee"},
		{name: "expired", token: token, edit: func(s *corev1.Secret) { s.Data[KeyExpiration] = []byte("2028-12-31T23:59:59Z") }},
		{name: "unparsable expiration", token: token, edit: func(s *corev1.Secret) { s.Data[KeyExpiration] = []byte("tomorrow") }},
		{name: "not for authentication", token: token, edit: func(s *corev1.Secret) { delete(s.Data, KeyUsageAuthentication) }},
		{name: "wrong type", token: token, edit: func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }},
		{name: "id mismatch", token: token, edit: func(s *corev1.Secret) { s.Data[KeyTokenID] = []byte("ghijkl") }},
		{name: "being deleted", token: token, edit: func(s *corev1.Secret) { s.DeletionTimestamp = &metav1.Time{Time: now} }},
		{name: "bad extra group", token: token, edit: func(s *corev1.Secret) { s.Data[KeyExtraGroups] = []byte("system:masters") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tokenSecret(tc.edit)
			a := &Authenticator{Secrets: secrets{s.Name: s}, Now: func() time.Time { return now }}
			u, ok, err := a.AuthenticateToken(context.Background(), tc.token)
			if err != nil || ok != tc.ok {
				t.Fatalf("ok=%v err=%v, want ok=%v", ok, err, tc.ok)
			}
			if ok && (u.Name != "system:bootstrap:abcdef" || strings.Join(u.Groups, ",") != tc.groups) {
				t.Fatalf("got %s %v, want groups %s", u.Name, u.Groups, tc.groups)
			}
		})
	}
}
