// Package auth owns who a request is (authentication) and what it may do (authorization).
//
// Authenticators and authorizers are small interfaces chained in order, so the security work (bearer tokens,
// service account tokens, OIDC, RBAC, the node authorizer) slots in as more links without touching the server.
// Today: x509 client certificates signed by the cluster CA, and an authorizer that lets system:masters do
// everything and refuses everyone else.
package auth
