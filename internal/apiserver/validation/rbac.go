package validation

import (
	rbacv1 "k8s.io/api/rbac/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		// A rule is either about URLs like /healthz or about resources.
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
		if len(r.ResourceNames) > 0 && len(r.Resources) > 1 {
			errs = append(errs, field.Required(p.Child("resourceNames"), "resource names cannot apply to multiple resources"))
		}
	}
	return errs
}

// validateBinding: a namespaced RoleBinding may grant a Role or a
// ClusterRole; a ClusterRoleBinding only a ClusterRole.
func validateBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	rp := field.NewPath("roleRef")
	errs = append(errs, oneOf(ref.APIGroup, rp.Child("apiGroup"), rbacv1.GroupName)...)
	if namespaced {
		errs = append(errs, oneOf(ref.Kind, rp.Child("kind"), "Role", "ClusterRole")...)
	} else {
		errs = append(errs, oneOf(ref.Kind, rp.Child("kind"), "ClusterRole")...)
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		errs = append(errs, msgs(path.ValidatePathSegmentName(ref.Name, false), ref.Name, rp.Child("name"))...)
	}
	for i, s := range subjects {
		sp := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.Name != "" {
				errs = append(errs, name(apimachineryvalidation.ValidateServiceAccountName, s.Name, sp.Child("name"))...)
			}
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(sp.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			// A cluster-wide binding cannot guess the account's namespace.
			if !namespaced && s.Namespace == "" {
				errs = append(errs, field.Required(sp.Child("namespace"), ""))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.Name == "" {
				what := "user"
				if s.Kind == rbacv1.GroupKind {
					what = "group"
				}
				errs = append(errs, field.Invalid(sp.Child("name"), s.Name, what+" name cannot be empty"))
			}
			errs = append(errs, oneOf(s.APIGroup, sp.Child("apiGroup"), rbacv1.GroupName)...)
		default:
			errs = append(errs, field.NotSupported(sp.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

// validateRoleRefUpdate: re-pointing a binding would silently change what
// its subjects may do; bindings are deleted and recreated instead.
func validateRoleRefUpdate(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}
