package apiserver

import (
	"context"
	"net/http"
	"strings"
)

// RequestInfo is what a request's path and method say about it.
type RequestInfo struct {
	IsResourceRequest bool
	Path              string
	Verb              string // get list watch create update patch delete deletecollection (or the HTTP verb, lowercased)
	APIPrefix         string // "api" or "apis"
	APIGroup          string
	APIVersion        string
	Namespace         string
	Resource          string
	Subresource       string
	Name              string
	Parts             []string
}

var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseRequestInfo reads /api/v1/..., /apis/<group>/<version>/... paths. Anything else is a non-resource request.
func parseRequestInfo(r *http.Request) *RequestInfo {
	info := &RequestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	if len(parts) < 2 || (parts[0] != "api" && parts[0] != "apis") {
		return info
	}
	info.APIPrefix = parts[0]
	parts = parts[1:]
	if info.APIPrefix == "apis" {
		info.APIGroup = parts[0]
		parts = parts[1:]
		if len(parts) == 0 {
			return info
		}
	}
	info.APIVersion = parts[0]
	parts = parts[1:]
	if len(parts) == 0 {
		return info
	}
	info.IsResourceRequest = true
	// The deprecated /watch/ prefix: /api/v1/watch/namespaces/x/pods is a watch of /api/v1/namespaces/x/pods.
	legacyWatch := false
	if parts[0] == "watch" && len(parts) > 1 {
		legacyWatch, parts = true, parts[1:]
	}
	// /namespaces/{ns}/{resource}... but /namespaces/{name} and /namespaces/{name}/status|finalize are namespaces.
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	info.Parts = parts
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}
	if info.Resource == "namespaces" {
		info.Namespace = info.Name
	}
	info.Verb = resourceVerb(r, info)
	if legacyWatch && (info.Verb == "get" || info.Verb == "list") {
		info.Verb = "watch"
	}
	return info
}

func resourceVerb(r *http.Request, info *RequestInfo) string {
	switch r.Method {
	case http.MethodPost:
		return "create"
	case http.MethodGet, http.MethodHead:
		if isWatch(r) {
			return "watch"
		}
		if info.Name == "" {
			return "list"
		}
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if info.Name == "" {
			return "deletecollection"
		}
		return "delete"
	}
	return strings.ToLower(r.Method)
}

func isWatch(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return w == "true" || w == "1"
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

type requestInfoKey struct{}

func withRequestInfo(ctx context.Context, ri *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

func requestInfoFrom(ctx context.Context) *RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return ri
}
