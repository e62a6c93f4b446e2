// Package auth owns who a request is (authentication) and what it may do (authorization).
//
// Authenticators and authorizers are small interfaces chained in order, so the security work (bearer tokens,
// service account tokens, OIDC, RBAC, the node authorizer) slots in as more links without touching the server.
// Today: x509 client certificates signed by the cluster CA; authorizers that let anyone read the health and
// version paths, let system:masters do everything, and RBAC (package rbac) for everyone else.
package auth
