package tokencleaner

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bootstraptoken "skiff/internal/auth/bootstrap"
)

func TestDecide(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Controller{now: func() time.Time { return now }}
	secret := func(typ corev1.SecretType, exp string) *corev1.Secret {
		s := &corev1.Secret{Type: typ, Data: map[string][]byte{}}
		if exp != "" {
			s.Data[bootstraptoken.KeyExpiration] = []byte(exp)
		}
		return s
	}
	deleting := secret(bootstraptoken.SecretType, "2029-01-01T00:00:00Z")
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	cases := []struct {
		name string
		s    *corev1.Secret
		want time.Duration
	}{
		{"expired", secret(bootstraptoken.SecretType, "2029-12-31T23:00:00Z"), 0},
		{"expires now", secret(bootstraptoken.SecretType, "2030-01-01T00:00:00Z"), 0},
		{"expires later", secret(bootstraptoken.SecretType, "2030-01-01T01:00:00Z"), time.Hour},
		{"never expires", secret(bootstraptoken.SecretType, ""), -1},
		{"unparsable", secret(bootstraptoken.SecretType, "soon"), 0},
		{"other type", secret(corev1.SecretTypeOpaque, "2029-01-01T00:00:00Z"), -1},
		{"being deleted", deleting, -1},
	}
	for _, tc := range cases {
		if got := c.decide(tc.s); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
