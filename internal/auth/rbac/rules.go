package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"skiff/internal/auth"
)

// RuleAllows says whether one policy rule covers the request, with upstream's matching.
func RuleAllows(a auth.Attributes, r *rbacv1.PolicyRule) bool {
	if !verbMatches(r, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		return nonResourceURLMatches(r, a.Path)
	}
	combined := a.Resource
	if a.Subresource != "" {
		combined += "/" + a.Subresource
	}
	return apiGroupMatches(r, a.APIGroup) && resourceMatches(r, combined, a.Subresource) && resourceNameMatches(r, a.Name)
}

func verbMatches(r *rbacv1.PolicyRule, verb string) bool {
	return slices.Contains(r.Verbs, rbacv1.VerbAll) || slices.Contains(r.Verbs, verb)
}

func apiGroupMatches(r *rbacv1.PolicyRule, group string) bool {
	return slices.Contains(r.APIGroups, rbacv1.APIGroupAll) || slices.Contains(r.APIGroups, group)
}

// resourceMatches: "*" matches everything, "pods" only pods (not its subresources), "pods/log" that one,
// "*/scale" the scale subresource of anything.
func resourceMatches(r *rbacv1.PolicyRule, combined, sub string) bool {
	for _, res := range r.Resources {
		if res == rbacv1.ResourceAll || res == combined {
			return true
		}
		if sub != "" && len(res) == len(sub)+2 && strings.HasPrefix(res, "*/") && strings.HasSuffix(res, sub) {
			return true
		}
	}
	return false
}

// resourceNameMatches: an empty list allows every name.
func resourceNameMatches(r *rbacv1.PolicyRule, name string) bool {
	return len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)
}

// nonResourceURLMatches: exact paths, "*", or a prefix ending in "*".
func nonResourceURLMatches(r *rbacv1.PolicyRule, path string) bool {
	for _, u := range r.NonResourceURLs {
		if u == rbacv1.NonResourceAll || u == path {
			return true
		}
		if strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimSuffix(u, "*")) {
			return true
		}
	}
	return false
}

// appliesTo says whether a binding subject names the user; namespace is the binding's, the default for a
// ServiceAccount subject without one.
func appliesTo(u *auth.User, s rbacv1.Subject, namespace string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.Name == s.Name
	case rbacv1.GroupKind:
		return slices.Contains(u.Groups, s.Name)
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = namespace
		}
		return ns != "" && u.Name == "system:serviceaccount:"+ns+":"+s.Name
	}
	return false
}

// Covers says whether the owner's rules grant everything the requested rules do, as upstream's escalation check
// (each requested rule is split into single verb/group/resource/name pieces, each of which must be allowed). It
// returns the pieces not covered.
func Covers(owner, requested []rbacv1.PolicyRule) (bool, []rbacv1.PolicyRule) {
	var missing []rbacv1.PolicyRule
	for _, req := range requested {
		for _, piece := range breakdown(req) {
			if !slices.ContainsFunc(owner, func(o rbacv1.PolicyRule) bool { return ruleCovers(&o, &piece) }) {
				missing = append(missing, piece)
			}
		}
	}
	return len(missing) == 0, missing
}

// breakdown splits a rule into rules of one verb, group, resource and name (or one verb and URL).
func breakdown(r rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, verb := range r.Verbs {
		for _, u := range r.NonResourceURLs {
			out = append(out, rbacv1.PolicyRule{Verbs: []string{verb}, NonResourceURLs: []string{u}})
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if len(r.ResourceNames) == 0 {
					out = append(out, rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{g}, Resources: []string{res}})
				}
				for _, n := range r.ResourceNames {
					out = append(out, rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{g}, Resources: []string{res}, ResourceNames: []string{n}})
				}
			}
		}
	}
	return out
}

// ruleCovers says whether owner grants all of sub (a rule from breakdown).
func ruleCovers(owner, sub *rbacv1.PolicyRule) bool {
	if !hasAll(owner.Verbs, sub.Verbs, rbacv1.VerbAll) {
		return false
	}
	if len(sub.NonResourceURLs) > 0 {
		if len(owner.NonResourceURLs) == 0 {
			return false
		}
		for _, u := range sub.NonResourceURLs {
			if !nonResourceURLCovers(owner.NonResourceURLs, u) {
				return false
			}
		}
		return true
	}
	if !hasAll(owner.APIGroups, sub.APIGroups, rbacv1.APIGroupAll) {
		return false
	}
	for _, res := range sub.Resources {
		if !resourceCovers(owner.Resources, res) {
			return false
		}
	}
	if len(owner.ResourceNames) > 0 && !hasAll(owner.ResourceNames, sub.ResourceNames, "") {
		return false
	}
	return len(owner.ResourceNames) == 0 || len(sub.ResourceNames) > 0
}

func hasAll(have, want []string, all string) bool {
	if all != "" && slices.Contains(have, all) {
		return true
	}
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func resourceCovers(have []string, want string) bool {
	if slices.Contains(have, rbacv1.ResourceAll) || slices.Contains(have, want) {
		return true
	}
	// "*/scale" covers "deployments/scale".
	if _, sub, ok := strings.Cut(want, "/"); ok && slices.Contains(have, "*/"+sub) {
		return true
	}
	return false
}

func nonResourceURLCovers(have []string, want string) bool {
	for _, h := range have {
		if h == want || h == rbacv1.NonResourceAll {
			return true
		}
		if strings.HasSuffix(h, "*") && strings.HasPrefix(want, strings.TrimSuffix(h, "*")) {
			return true
		}
	}
	return false
}
