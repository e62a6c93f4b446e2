package pods

import (
	"testing"
	"time"
)

func TestTokenRefreshTime(t *testing.T) {
	iat := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ttl, want time.Duration
	}{
		{3607 * time.Second, 3607 * time.Second * 8 / 10},
		{10 * time.Minute, 8 * time.Minute},
		{48 * time.Hour, 24 * time.Hour},
		{25 * time.Hour, 20 * time.Hour},
	} {
		if got := tokenRefreshTime(iat, iat.Add(tc.ttl)).Sub(iat); got != tc.want {
			t.Errorf("ttl %v: refresh after %v, want %v", tc.ttl, got, tc.want)
		}
	}
}
