package apiserver

import (
	"fmt"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serveResource dispatches a resource request to its verb handler.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, ri *RequestInfo) {
	res := s.lookup(ri)
	if res == nil {
		s.writeError(w, r, notFoundPath(r.URL.Path))
		return
	}
	if len(ri.Parts) > 3 && !(ri.Subresource == "proxy") {
		s.writeError(w, r, notFoundPath(r.URL.Path))
		return
	}
	if ri.Namespace != "" && !res.Namespaced && res.Resource.Resource != "namespaces" {
		s.writeError(w, r, notFoundPath(r.URL.Path))
		return
	}
	if res.Namespaced && ri.Namespace == "" && ri.Verb != "list" && ri.Verb != "watch" && ri.Verb != "deletecollection" {
		s.writeError(w, r, apierrors.NewBadRequest("the server could not find the requested resource: a namespace is required"))
		return
	}
	if !res.Namespaced {
		// Upstream's request info names a namespace's own name as its namespace (for authorization); storage
		// keys of cluster-scoped objects have none.
		ri.Namespace = ""
	}
	if ri.Subresource != "" {
		s.serveSubresource(w, r, ri, res)
		return
	}
	if !slices.Contains(res.SupportedVerbs(), ri.Verb) {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GroupResource(), ri.Verb))
		return
	}
	switch ri.Verb {
	case "get":
		s.get(w, r, ri, res)
	case "list":
		s.list(w, r, ri, res)
	case "watch":
		s.watch(w, r, ri, res)
	case "create":
		s.create(w, r, ri, res)
	case "update":
		s.update(w, r, ri, res, "")
	case "patch":
		s.patch(w, r, ri, res, "")
	case "delete":
		s.delete(w, r, ri, res)
	case "deletecollection":
		s.deleteCollection(w, r, ri, res)
	default:
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GroupResource(), r.Method))
	}
}

func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	sub := ri.Subresource
	if !slices.Contains(res.subresources(), sub) {
		s.writeError(w, r, notFoundPath(r.URL.Path))
		return
	}
	verbs := subresourceVerbs[sub]
	if !slices.Contains(verbs, ri.Verb) {
		s.writeError(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{Group: res.Group, Resource: res.Resource.Resource + "/" + sub}, ri.Verb))
		return
	}
	switch sub {
	case "status", "finalize", "approval", "ephemeralcontainers", "resize":
		switch ri.Verb {
		case "get":
			s.get(w, r, ri, res)
		case "update":
			s.update(w, r, ri, res, sub)
		case "patch":
			s.patch(w, r, ri, res, sub)
		}
	case "scale":
		s.serveScale(w, r, ri, res)
	case "binding":
		s.bind(w, r, ri, res)
	case "eviction":
		s.evict(w, r, ri, res)
	case "log":
		s.podLogs(w, r, ri, res)
	case "exec", "attach", "portforward":
		s.podStream(w, r, ri, res)
	case "token":
		s.createToken(w, r, ri, res)
	default:
		// proxy: not served yet.
		s.writeError(w, r, apierrors.NewGenericServerResponse(http.StatusNotImplemented, ri.Verb, res.GroupResource(), ri.Name,
			fmt.Sprintf("the %s subresource is not served yet", sub), 0, false))
	}
}
