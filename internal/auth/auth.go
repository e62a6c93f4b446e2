package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Well-known groups.
const (
	GroupMasters         = "system:masters"
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	UserAnonymous        = "system:anonymous"
)

// Authenticator finds the user of a request. ok=false means "not mine": the next authenticator is asked.
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (u *User, ok bool, err error)
}

// Chain asks each authenticator in turn and returns the first answer.
type Chain []Authenticator

// AuthenticateRequest implements Authenticator.
func (c Chain) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	var firstErr error
	for _, a := range c {
		u, ok, err := a.AuthenticateRequest(r)
		if ok {
			if !containsGroup(u.Groups, GroupAuthenticated) {
				u.Groups = append(u.Groups, GroupAuthenticated)
			}
			return u, true, nil
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return nil, false, firstErr
}

// X509 authenticates requests by a verified TLS client certificate: CommonName is the user, Organizations the
// groups. The TLS server already verified the chain against the client CA.
type X509 struct{}

// AuthenticateRequest implements Authenticator.
func (X509) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, false, nil
	}
	cert := r.TLS.VerifiedChains[0][0]
	if cert.Subject.CommonName == "" {
		return nil, false, nil
	}
	// The chain was verified at the handshake; a connection may outlive its certificate, so validity is
	// checked again on every request, as upstream verifies the chain per request.
	now := time.Now()
	for _, c := range r.TLS.VerifiedChains[0] {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil, false, fmt.Errorf("verifying certificate SN=%s failed: x509: certificate has expired or is not yet valid: current time %s is outside %s - %s",
				cert.SerialNumber, now.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	groups := append([]string(nil), cert.Subject.Organization...)
	return &User{Name: cert.Subject.CommonName, Groups: groups}, true, nil
}

// Attributes describe what a request wants to do.
type Attributes struct {
	User        *User
	Verb        string
	Namespace   string
	APIGroup    string
	APIVersion  string
	Resource    string
	Subresource string
	Name        string
	// ResourceRequest is false for non-resource paths such as /healthz.
	ResourceRequest bool
	Path            string
	// FieldSelector is a list, watch or deletecollection's parsed field selector (nil when it has none or it
	// does not parse), as upstream's authorization with selectors: the Node authorizer lets a node list only
	// its own pods (spec.nodeName=<node>).
	FieldSelector fields.Requirements
}

// Decision is an authorizer's answer.
type Decision int

// Decisions: NoOpinion passes the question to the next authorizer.
const (
	DecisionNoOpinion Decision = iota
	DecisionAllow
	DecisionDeny
)

// Authorizer decides whether a request may proceed.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (Decision, string, error)
}

// AuthorizerChain asks each authorizer until one allows or denies. When none does, the reasons the others gave
// (e.g. RBAC's missing roles) are joined with newlines, as upstream's union authorizer.
type AuthorizerChain []Authorizer

// Authorize implements Authorizer.
func (c AuthorizerChain) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var reasons []string
	for _, z := range c {
		d, reason, err := z.Authorize(ctx, a)
		if err != nil || d != DecisionNoOpinion {
			return d, reason, err
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
	}
	return DecisionNoOpinion, strings.Join(reasons, "\n"), nil
}

// Masters allows everything to members of system:masters, as upstream's privileged group.
type Masters struct{}

// Authorize implements Authorizer.
func (Masters) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	if a.User != nil && containsGroup(a.User.Groups, GroupMasters) {
		return DecisionAllow, "", nil
	}
	return DecisionNoOpinion, "", nil
}

// PublicInfo allows anyone, authenticated or not, to read health and version endpoints, as upstream's
// system:public-info-viewer role does.
type PublicInfo struct{}

// Authorize implements Authorizer.
func (PublicInfo) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	if !a.ResourceRequest && a.Verb == "get" {
		switch a.Path {
		case "/healthz", "/livez", "/readyz", "/version", "/version/":
			return DecisionAllow, "", nil
		}
	}
	return DecisionNoOpinion, "", nil
}

func containsGroup(gs []string, g string) bool { return slices.Contains(gs, g) }

type userKey struct{}

// WithUser returns ctx carrying u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the request's user, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
