package apiserver

import (
	"net/http"

	"skiff/internal/apiserver/audit"
)

// longRunningSubresources stream for as long as the client stays (upstream's list): their audit events get a
// ResponseStarted stage.
var longRunningSubresources = map[string]bool{"attach": true, "exec": true, "proxy": true, "log": true, "portforward": true}

// withAudit gives every response an Audit-ID and, with an audit policy, logs the request. It sits outside
// authentication so that refused requests are logged too.
func (s *Server) withAudit(next http.Handler) http.Handler {
	return s.cfg.Auditor.Filter(next, func(r *http.Request) (audit.Attributes, bool) {
		ri := parseRequestInfo(r)
		long := ri.Verb == "watch" || ri.Verb == "proxy" || (ri.IsResourceRequest && longRunningSubresources[ri.Subresource])
		return audit.Attributes{Verb: ri.Verb, ResourceRequest: ri.IsResourceRequest, Namespace: ri.Namespace,
			APIGroup: ri.APIGroup, APIVersion: ri.APIVersion, Resource: ri.Resource, Subresource: ri.Subresource,
			Name: ri.Name, Path: ri.Path}, long
	})
}
