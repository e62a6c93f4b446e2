package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/admission"
	"skiff/internal/apiserver/audit"
	"skiff/internal/auth"
)

func (s *Server) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				slog.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				s.writeError(w, r, apierrors.NewInternalError(fmt.Errorf("panic: %v", p)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) withAuthentication(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Requests without credentials are anonymous only when the authenticator says so (auth.Anonymous,
		// --anonymous-auth); otherwise, and for any bad credential, 401.
		u, ok, err := s.cfg.Authenticator.AuthenticateRequest(r)
		if !ok {
			if err != nil {
				slog.Debug("authentication failed", "path", r.URL.Path, "err", err)
			}
			s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		r.Header.Del("Authorization")
		audit.SetUser(r.Context(), u)
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), u)))
	})
}

func (s *Server) withRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withRequestInfo(r.Context(), parseRequestInfo(r))))
	})
}

func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := requestInfoFrom(r.Context())
		u := auth.UserFrom(r.Context())
		a := auth.Attributes{User: u, Verb: ri.Verb, Namespace: ri.Namespace, APIGroup: ri.APIGroup,
			APIVersion: ri.APIVersion, Resource: ri.Resource, Subresource: ri.Subresource, Name: authzName(r, ri),
			ResourceRequest: ri.IsResourceRequest, Path: ri.Path, FieldSelector: authzFieldSelector(r, ri)}
		d, reason, err := s.cfg.Authorizer.Authorize(r.Context(), a)
		if err != nil {
			s.writeError(w, r, apierrors.NewInternalError(err))
			return
		}
		audit.LogDecision(r.Context(), d == auth.DecisionAllow, reason)
		if d != auth.DecisionAllow {
			err := forbidden(a, reason)
			logDenial(a, err)
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logDenial logs a refused request: at warn for the in-process components' own identities (a missing rule in
// their default role silently stalls a controller, so say it loudly), at debug for everyone else.
func logDenial(a auth.Attributes, err error) {
	name := ""
	if a.User != nil {
		name = a.User.Name
	}
	level := slog.LevelDebug
	for _, p := range []string{"system:kube-", "system:skiff:", "system:serviceaccount:kube-system:"} {
		if strings.HasPrefix(name, p) {
			level = slog.LevelWarn
		}
	}
	slog.Log(context.Background(), level, "request forbidden", "user", name, "err", err)
}

// authzName is the name a request is authorized for: as upstream, a list or watch whose field selector pins
// metadata.name (client-go's single-object informers) is about that one object, so RBAC resourceNames and the
// Node authorizer can allow it.
func authzName(r *http.Request, ri *RequestInfo) string {
	if ri.Name != "" || (ri.Verb != "list" && ri.Verb != "watch") {
		return ri.Name
	}
	sel, err := fields.ParseSelector(r.URL.Query().Get("fieldSelector"))
	if err != nil {
		return ""
	}
	if name, ok := sel.RequiresExactMatch("metadata.name"); ok && len(path.IsValidPathSegmentName(name)) == 0 {
		return name
	}
	return ""
}

// authzFieldSelector is the field selector a collection request is authorized with.
func authzFieldSelector(r *http.Request, ri *RequestInfo) fields.Requirements {
	switch ri.Verb {
	case "list", "watch", "deletecollection":
	default:
		return nil
	}
	raw := r.URL.Query().Get("fieldSelector")
	if raw == "" {
		return nil
	}
	sel, err := fields.ParseSelector(raw)
	if err != nil {
		return nil
	}
	return sel.Requirements()
}

// forbidden builds upstream's message: pods is forbidden: User "x" cannot list resource "pods" in API group "" in
// the namespace "y".
func forbidden(a auth.Attributes, reason string) error {
	name := "<unknown>"
	if a.User != nil {
		name = a.User.Name
	}
	var msg string
	if a.ResourceRequest {
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q", name, a.Verb, res, a.APIGroup)
		if a.Namespace != "" {
			msg += fmt.Sprintf(" in the namespace %q", a.Namespace)
		} else {
			msg += " at the cluster scope"
		}
	} else {
		msg = fmt.Sprintf("User %q cannot %s path %q", name, a.Verb, a.Path)
	}
	if reason != "" {
		msg += ": " + reason
	}
	// NewForbidden prefixes `pods "x" is forbidden: ` (or `forbidden: ` for paths), as upstream's response.
	return apierrors.NewForbidden(schema.GroupResource{Group: a.APIGroup, Resource: a.Resource}, a.Name, fmt.Errorf("%s", msg))
}

// withWarnings lets admission plugins (PodSecurity, webhooks) warn the client (admission.AddWarning): each
// distinct text becomes a Warning: 299 - "text" header, as upstream sends them; warnings after the response has
// started are dropped. Validating webhooks run in parallel, hence the lock.
func (s *Server) withWarnings(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var mu sync.Mutex
		seen := map[string]bool{}
		ctx := admission.WithWarnings(r.Context(), func(text string) {
			mu.Lock()
			defer mu.Unlock()
			if !seen[text] {
				seen[text] = true
				addWarnings(w, []string{text})
			}
		})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
