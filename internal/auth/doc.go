// Package auth owns who a request is (authentication) and what it may do (authorization).
//
// Authenticators and authorizers are small interfaces chained in order, so the security work (service account
// tokens, RBAC, the node authorizer) slots in as more links without touching the server.
//
//	request ─▶ Anonymous{ Chain{ X509, BearerToken{ tokenfile, bootstrap, oidc, ... } } }
//	           client cert ─▶ user │ bearer token: first TokenAuthenticator that accepts ─▶ user,
//	           none accepts ─▶ ErrInvalidBearerToken (401) │ no credentials ─▶ system:anonymous
//
// A TokenAuthenticator answers ok=false, err=nil for tokens that are not its kind, so kinds can be mixed.
// Authorization: anyone may GET the health and version endpoints, system:masters may do everything, and RBAC
// (package rbac) decides for everyone else.
package auth
