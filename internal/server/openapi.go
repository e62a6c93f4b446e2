package server

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/apiserver"
	"skiff/internal/apiserver/openapi"
)

// openapiResources describes the served resources to the OpenAPI builder.
func openapiResources(served []apiserver.ServedResource) []openapi.Resource {
	var out []openapi.Resource
	for _, r := range served {
		if r.GVR.Resource == "bindings" {
			continue // create-only, no list kind; pods/binding documents the Binding type
		}
		gv := r.GVR.GroupVersion()
		listGVK := gv.WithKind(r.Kind + "List")
		if slices.Equal(r.Verbs, []string{"create"}) {
			listGVK = schema.GroupVersionKind{} // access reviews: create-only, no list kind
		}
		out = append(out, openapi.Resource{GVK: gv.WithKind(r.Kind), ListGVK: listGVK,
			Resource: r.GVR.Resource, Namespaced: r.Namespaced, Subresources: r.Subresources, Verbs: r.Verbs})
	}
	return out
}
