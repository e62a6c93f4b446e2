package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// TokenAuthenticator finds the user a bearer token stands for. ok=false with a nil error means "not my kind of
// token"; an error means the token was meant for this authenticator and is bad (expired, wrongly signed...).
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (u *User, ok bool, err error)
}

// ErrInvalidBearerToken is returned when a request carries a bearer token that no token authenticator accepts.
// As upstream, such a request is refused (401); it never falls back to anonymous.
var ErrInvalidBearerToken = errors.New("invalid bearer token")

// BearerToken authenticates requests carrying "Authorization: Bearer <token>" with the first of its token
// authenticators that accepts the token.
type BearerToken []TokenAuthenticator

// AuthenticateRequest implements Authenticator.
func (b BearerToken) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, false, nil
	}
	var errs []error
	for _, t := range b {
		u, ok, err := t.AuthenticateToken(r.Context(), token)
		if ok {
			return u, true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return nil, false, errors.Join(append([]error{ErrInvalidBearerToken}, errs...)...)
}

func bearerToken(r *http.Request) (string, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Anonymous wraps the request authenticator of the server: a request its authenticators accept gets that user,
// a request with bad credentials gets the error (401), and a request with no credentials at all becomes
// system:anonymous in system:unauthenticated, left to the authorizers (upstream's --anonymous-auth). With
// Paths set, only requests for those exact paths may be anonymous (the anonymous conditions of upstream's
// AuthenticationConfiguration); others without credentials are not authenticated (401).
type Anonymous struct {
	Authenticator
	Paths []string
}

// AuthenticateRequest implements Authenticator.
func (a Anonymous) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	u, ok, err := a.Authenticator.AuthenticateRequest(r)
	if ok || err != nil {
		return u, ok, err
	}
	if len(a.Paths) > 0 && !slices.Contains(a.Paths, r.URL.Path) {
		return nil, false, nil
	}
	return &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}, true, nil
}
