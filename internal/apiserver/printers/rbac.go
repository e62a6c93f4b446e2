package printers

import (
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
)

// rbac.authorization.k8s.io/v1. Roles and ClusterRoles have no printer:
// upstream serves them with the generic Name/Created At table, which is why
// "kubectl get roles" shows CREATED AT instead of AGE.

func init() {
	register(roleBindingColumns, func(rb *rbacv1.RoleBinding, now time.Time) []any {
		return bindingCells(rb.Name, rb.RoleRef, rb.Subjects, age(rb.CreationTimestamp, now))
	})
	register(clusterRoleBindingColumns, func(crb *rbacv1.ClusterRoleBinding, now time.Time) []any {
		return bindingCells(crb.Name, crb.RoleRef, crb.Subjects, age(crb.CreationTimestamp, now))
	})
}

var roleBindingColumns = cols(
	nameColumn(),
	column("Role", "string", rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"]),
	ageColumn(),
	wideColumn("Users", "string", "Users in the roleBinding"),
	wideColumn("Groups", "string", "Groups in the roleBinding"),
	wideColumn("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
)

var clusterRoleBindingColumns = cols(
	nameColumn(),
	column("Role", "string", rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"]),
	ageColumn(),
	wideColumn("Users", "string", "Users in the clusterRoleBinding"),
	wideColumn("Groups", "string", "Groups in the clusterRoleBinding"),
	wideColumn("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
)

// bindingCells shows the role as "Kind/name" and splits the subjects by
// kind; service accounts are "namespace/name". Subjects of other kinds are
// not shown.
func bindingCells(name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, age string) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{
		name,
		ref.Kind + "/" + ref.Name,
		age,
		strings.Join(users, ", "),
		strings.Join(groups, ", "),
		strings.Join(sas, ", "),
	}
}
