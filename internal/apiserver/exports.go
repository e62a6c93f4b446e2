package apiserver

import (
	"context"
	"errors"
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

// LimitRangeLister reads a namespace's LimitRanges from the watch cache, for LimitRanger admission.
func (s *Server) LimitRangeLister() admission.LimitRangeLister {
	res := s.resources[corev1.SchemeGroupVersion.WithResource("limitranges")]
	return func(ctx context.Context, ns string) ([]*corev1.LimitRange, error) {
		items, _, err := res.cache.List(ctx, res.store.Key(ns, ""), nil, 0, false)
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.LimitRange, len(items))
		for i, o := range items {
			out[i] = o.(*corev1.LimitRange)
		}
		return out, nil
	}
}

// QuotaLister reads a namespace's ResourceQuotas from the watch cache, for ResourceQuota admission.
func (s *Server) QuotaLister() admission.QuotaLister {
	res := s.resources[corev1.SchemeGroupVersion.WithResource("resourcequotas")]
	return func(ctx context.Context, ns string) ([]*corev1.ResourceQuota, error) {
		items, _, err := res.cache.List(ctx, res.store.Key(ns, ""), nil, 0, false)
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.ResourceQuota, len(items))
		for i, o := range items {
			out[i] = o.(*corev1.ResourceQuota)
		}
		return out, nil
	}
}

// QuotaStatusUpdater writes ResourceQuota status for ResourceQuota admission: a compare-and-swap on the stored
// revision (starting from the watch cache's copy), retried on the current copy until it wins.
func (s *Server) QuotaStatusUpdater() admission.QuotaStatusUpdater {
	res := s.resources[corev1.SchemeGroupVersion.WithResource("resourcequotas")]
	return func(ctx context.Context, ns, name string, fn func(*corev1.ResourceQuota) error) error {
		key := res.store.Key(ns, name)
		cached, _, _ := res.cache.Get(ctx, key)
		_, _, err := res.store.GuaranteedUpdate(ctx, key, name, func(cur runtime.Object) (runtime.Object, bool, error) {
			q := cur.(*corev1.ResourceQuota)
			if err := fn(q); err != nil {
				if errors.Is(err, admission.ErrQuotaUnchanged) {
					return nil, false, nil
				}
				return nil, false, err
			}
			q.ResourceVersion = ""
			return q, false, nil
		}, cached)
		return err
	}
}
