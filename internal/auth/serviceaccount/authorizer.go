package serviceaccount

import (
	"context"
	"slices"

	"skiff/internal/auth"
)

// DiscoveryAuthorizer lets service accounts read the OIDC discovery documents, as upstream's default
// system:service-account-issuer-discovery ClusterRoleBinding (to the group system:serviceaccounts) does.
// When RBAC lands, its bootstrap role and binding replace this authorizer.
type DiscoveryAuthorizer struct{}

// Authorize implements auth.Authorizer.
func (DiscoveryAuthorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.ResourceRequest || a.Verb != "get" || (a.Path != OpenIDConfigPath && a.Path != JWKSPath) {
		return auth.DecisionNoOpinion, "", nil
	}
	if a.User != nil && slices.Contains(a.User.Groups, "system:serviceaccounts") {
		return auth.DecisionAllow, "", nil
	}
	return auth.DecisionNoOpinion, "", nil
}
