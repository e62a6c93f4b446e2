package apiserver

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff/internal/apiserver/audit"
	"skiff/internal/auth"
)

const saPrefix = "system:serviceaccount:"

// withImpersonation acts on the Impersonate-User, -Uid, -Group and -Extra-<key> headers, as upstream: each
// thing asked for needs the `impersonate` verb on users (or serviceaccounts for a service account name),
// groups, uids or userextras/<key>; then the request continues as the impersonated user. kubectl --as and
// --as-group send these headers.
func (s *Server) withImpersonation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get(authenticationv1.ImpersonateUserHeader)
		groups := r.Header.Values(authenticationv1.ImpersonateGroupHeader)
		uid := r.Header.Get(authenticationv1.ImpersonateUIDHeader)
		extra := impersonatedExtra(r.Header)
		if name == "" {
			if len(groups) > 0 || uid != "" || len(extra) > 0 {
				s.writeError(w, r, apierrors.NewInternalError(errors.New("requested impersonation of groups, uid or extra without impersonating a user")))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		requestor := auth.UserFrom(r.Context())
		check := func(a auth.Attributes) bool {
			a.User, a.Verb, a.ResourceRequest = requestor, "impersonate", true
			d, reason, err := s.cfg.Authorizer.Authorize(r.Context(), a)
			if err != nil {
				s.writeError(w, r, apierrors.NewInternalError(err))
				return false
			}
			if d != auth.DecisionAllow {
				audit.LogDecision(r.Context(), false, reason)
				err := forbidden(a, reason)
				logDenial(a, err)
				s.writeError(w, r, err)
				return false
			}
			return true
		}
		u := &auth.User{Name: name, UID: uid}
		if ns, sa, ok := strings.Cut(strings.TrimPrefix(name, saPrefix), ":"); strings.HasPrefix(name, saPrefix) && ok {
			if !check(auth.Attributes{APIVersion: "v1", Resource: "serviceaccounts", Namespace: ns, Name: sa}) {
				return
			}
			if len(groups) == 0 {
				// A service account's groups follow from its name.
				u.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
			}
		} else if !check(auth.Attributes{APIVersion: "v1", Resource: "users", Name: name}) {
			return
		}
		for _, g := range groups {
			if !check(auth.Attributes{APIVersion: "v1", Resource: "groups", Name: g}) {
				return
			}
			u.Groups = append(u.Groups, g)
		}
		if uid != "" && !check(auth.Attributes{APIGroup: "authentication.k8s.io", APIVersion: "v1", Resource: "uids", Name: uid}) {
			return
		}
		for k, vs := range extra {
			for _, v := range vs {
				if !check(auth.Attributes{APIGroup: "authentication.k8s.io", APIVersion: "v1", Resource: "userextras", Subresource: k, Name: v}) {
					return
				}
			}
		}
		if len(extra) > 0 {
			u.Extra = extra
		}
		// Everyone but the anonymous user is authenticated, unless the groups asked say otherwise.
		if !slices.Contains(u.Groups, auth.GroupAuthenticated) && !slices.Contains(u.Groups, auth.GroupUnauthenticated) {
			if name == auth.UserAnonymous {
				u.Groups = append(u.Groups, auth.GroupUnauthenticated)
			} else {
				u.Groups = append(u.Groups, auth.GroupAuthenticated)
			}
		}
		for k := range r.Header {
			if strings.HasPrefix(k, "Impersonate-") {
				r.Header.Del(k)
			}
		}
		audit.LogImpersonatedUser(r.Context(), u)
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), u)))
	})
}

// impersonatedExtra reads Impersonate-Extra-<key> headers; keys are percent-encoded and case-insensitive.
func impersonatedExtra(h http.Header) map[string][]string {
	var out map[string][]string
	for k, vs := range h {
		if !strings.HasPrefix(k, authenticationv1.ImpersonateUserExtraHeaderPrefix) {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(k, authenticationv1.ImpersonateUserExtraHeaderPrefix))
		if unescaped, err := url.PathUnescape(key); err == nil {
			key = unescaped
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[key] = append(out[key], vs...)
	}
	return out
}
