// Package rbac is role-based access control over rbac.authorization.k8s.io/v1 objects, as upstream's RBAC
// authorizer: who may do what is the union of the rules of every Role and ClusterRole bound to the user.
//
//	request attributes ─▶ Resolver: ClusterRoleBindings (cluster-wide) + RoleBindings of the namespace
//	                                 whose subjects match the user ─▶ their roles' rules ─▶ any rule allows?
//
// Glossary:
//   - rule: verbs × apiGroups × resources (or "resource/subresource", "*", "*/subresource") × resourceNames, or
//     verbs × nonResourceURLs (exact or with a trailing "*").
//   - subject: a User, a Group, or a ServiceAccount (user system:serviceaccount:<ns>:<name>, in the groups
//     system:serviceaccounts and system:serviceaccounts:<ns>).
//   - A RoleBinding may name a ClusterRole: its rules then apply only in the binding's namespace.
//
// The package also owns the default roles and bindings upstream bootstraps (Defaults, Reconcile), the
// escalation check on writes of roles and bindings (Escalation), and rule listing for SelfSubjectRulesReview.
// It reads the RBAC objects through client-go listers; it never writes except in Reconcile.
package rbac
