package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"skiff/internal/auth"
	"skiff/internal/auth/oidc"
)

func TestAuthenticatorFlagConflicts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "authn.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\nanonymous: {enabled: false}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		cfg  AuthenticationConfig
		want string
	}{
		"config and oidc flags":                 {AuthenticationConfig{ConfigFile: file, OIDC: oidc.Flags{IssuerURL: "https://x", ClientID: "c"}}, "mutually exclusive"},
		"config anonymous and --anonymous-auth": {AuthenticationConfig{ConfigFile: file, AnonymousAuth: true, AnonymousAuthExplicit: true}, "mutually exclusive"},
		"issuer without client id":              {AuthenticationConfig{OIDC: oidc.Flags{IssuerURL: "https://x"}}, "must be set together"},
		"missing token file":                    {AuthenticationConfig{TokenAuthFile: "/nonexistent"}, "token-auth-file"},
	}
	for name, tc := range cases {
		_, err := authenticator(context.Background(), tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
	// The config's anonymous section decides when the flag was not given.
	a, err := authenticator(context.Background(), AuthenticationConfig{ConfigFile: file, AnonymousAuth: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, anon := a.Authenticator.(auth.Anonymous); anon {
		t.Fatal("anonymous enabled although the file turns it off")
	}
}
