package apiserver

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/admission"
)

// Scheme returns the types the server serves.
func (s *Server) Scheme() *runtime.Scheme { return s.scheme }

// NamespaceGetter reads namespaces from the watch cache, for admission. A namespace created a moment ago may
// not be in the cache yet, so a miss is confirmed with a read from etcd.
func (s *Server) NamespaceGetter() admission.NamespaceGetter {
	res := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}]
	return func(ctx context.Context, name string) (*corev1.Namespace, error) {
		obj, _, err := res.cache.Get(ctx, res.store.Key("", name))
		if err != nil {
			return nil, err
		}
		if obj == nil {
			if obj, err = res.store.Get(ctx, res.store.Key("", name), name); err != nil {
				if apierrors.IsNotFound(err) {
					return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
				}
				return nil, err
			}
		}
		return obj.(*corev1.Namespace), nil
	}
}

// Resources lists the served resources and their subresources, e.g. for OpenAPI.
type ServedResource struct {
	GVR          schema.GroupVersionResource
	Kind         string
	Namespaced   bool
	Subresources []string
	Verbs        []string
}

// Served returns every served resource in discovery order.
func (s *Server) Served() []ServedResource {
	var out []ServedResource
	for _, r := range s.ordered {
		out = append(out, ServedResource{GVR: r.GroupVersionResource, Kind: r.Kind, Namespaced: r.Namespaced,
			Subresources: slices.Clone(r.subresources()), Verbs: r.SupportedVerbs()})
	}
	return out
}

// Lister reads every object of a resource from the watch cache (for admission plugins). The objects are
// shared and must not be modified.
func (s *Server) Lister(gvr schema.GroupVersionResource) func(ctx context.Context) ([]runtime.Object, error) {
	res := s.resources[gvr]
	return func(ctx context.Context) ([]runtime.Object, error) {
		items, _, err := res.cache.List(ctx, res.store.Resource().Prefix, nil, 0, false)
		if err != nil {
			return nil, err
		}
		return res.outAll(items)
	}
}
