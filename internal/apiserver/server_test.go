package apiserver

import (
	"testing"

	"skiff/internal/auth"
)

// testServer builds a server without etcd, for tests of the parts that do not touch storage.
func testServer(t *testing.T) (*Server, error) {
	t.Helper()
	s, err := New(Config{Authenticator: auth.Chain{auth.X509{}}, Authorizer: auth.Masters{}})
	if err != nil {
		t.Fatal(err)
	}
	return s, nil
}
