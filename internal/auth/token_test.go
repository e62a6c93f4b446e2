package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type tokens map[string]string // token -> user name

func (m tokens) AuthenticateToken(_ context.Context, token string) (*User, bool, error) {
	if name, ok := m[token]; ok {
		return &User{Name: name}, true, nil
	}
	return nil, false, nil
}

type refusing struct{}

func (refusing) AuthenticateToken(context.Context, string) (*User, bool, error) {
	return nil, false, errors.New("token expired")
}

func TestRequestAuthentication(t *testing.T) {
	chain := Anonymous{Authenticator: Chain{X509{}, BearerToken{refusing{}, tokens{"good": "alice"}}}}
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "admin", Organization: []string{GroupMasters}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	expired := &x509.Certificate{Subject: pkix.Name{CommonName: "old", Organization: []string{GroupMasters}},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}
	cases := []struct {
		name      string
		header    string
		cert      bool
		wantUser  string
		wantGroup string
		wantErr   bool
	}{
		{name: "no credentials is anonymous", wantUser: UserAnonymous, wantGroup: GroupUnauthenticated},
		{name: "good token", header: "Bearer good", wantUser: "alice", wantGroup: GroupAuthenticated},
		{name: "scheme is case-insensitive", header: "bearer good", wantUser: "alice", wantGroup: GroupAuthenticated},
		{name: "unknown token is 401, not anonymous", header: "Bearer nope", wantErr: true},
		{name: "empty bearer is anonymous", header: "Bearer ", wantUser: UserAnonymous, wantGroup: GroupUnauthenticated},
		{name: "basic auth is not ours", header: "Basic Zm9vOmJhcg==", wantUser: UserAnonymous, wantGroup: GroupUnauthenticated},
		{name: "client certificate first", header: "Bearer nope", cert: true, wantUser: "admin", wantGroup: GroupMasters},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if tc.cert {
				r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
			}
			u, ok, err := chain.AuthenticateRequest(r)
			if tc.wantErr {
				if ok || !errors.Is(err, ErrInvalidBearerToken) {
					t.Fatalf("ok=%v err=%v, want ErrInvalidBearerToken", ok, err)
				}
				return
			}
			if !ok || err != nil || u.Name != tc.wantUser || !containsGroup(u.Groups, tc.wantGroup) {
				t.Fatalf("ok=%v err=%v user=%+v, want %s in %s", ok, err, u, tc.wantUser, tc.wantGroup)
			}
			if u.Name == UserAnonymous && containsGroup(u.Groups, GroupAuthenticated) {
				t.Fatal("anonymous user in system:authenticated")
			}
		})
	}
	// A certificate that expired since the handshake (a long-lived connection) is refused, not anonymous.
	r := httptest.NewRequest("GET", "/api", nil)
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{expired}}}
	if u, ok, err := chain.AuthenticateRequest(r); ok || err == nil || !strings.Contains(err.Error(), "certificate has expired") {
		t.Fatalf("expired certificate: user=%v ok=%v err=%v", u, ok, err)
	}
	// Anonymous only for some paths.
	some := Anonymous{Authenticator: Chain{X509{}}, Paths: []string{"/livez"}}
	if u, ok, _ := some.AuthenticateRequest(httptest.NewRequest("GET", "/livez", nil)); !ok || u.Name != UserAnonymous {
		t.Fatalf("/livez: ok=%v", ok)
	}
	if _, ok, err := some.AuthenticateRequest(httptest.NewRequest("GET", "/healthz", nil)); ok || err != nil {
		t.Fatalf("/healthz outside the conditions: ok=%v err=%v", ok, err)
	}
	// Without Anonymous, no credentials is simply "not authenticated".
	if _, ok, err := (Chain{X509{}, BearerToken{}}).AuthenticateRequest(httptest.NewRequest("GET", "/", nil)); ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}
