// Package apiserver serves the Kubernetes REST API over HTTPS: routing, authentication and authorization
// filters, content negotiation, the generic REST verbs over internal/storage, watch streaming, discovery and
// table output.
//
//	request ─▶ filters (panic, body limit, authn, requestinfo, authz) ─▶ router
//	   router ─▶ discovery | /version | health | openapi | resource handler
//	   resource handler: decode ─▶ defaults ─▶ admission (mutating) ─▶ validation ─▶ admission (validating)
//	                     ─▶ managed fields ─▶ storage.Store (etcd) ; reads: storage.Cacher
//
// Per-kind knowledge lives elsewhere: the resource table in registry, defaults, validation and printers in
// their own packages. This package stays generic.
package apiserver
