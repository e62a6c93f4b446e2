package garbagecollector

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/apiserver/registry"
)

// ignored are resources the collector does not watch, as upstream's default GC-ignored resources: events are
// many, short-lived and never owners.
var ignored = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// resources maps owner references (apiVersion + kind) to served resources and lists the watched ones.
type resources struct {
	byGVK map[schema.GroupVersionKind]*registry.Resource
	// byGK holds each group/kind's preferred (first listed) version, for references naming another version.
	byGK    map[schema.GroupKind]*registry.Resource
	watched []*registry.Resource
}

func newResources(all []*registry.Resource) *resources {
	r := &resources{byGVK: map[schema.GroupVersionKind]*registry.Resource{}, byGK: map[schema.GroupKind]*registry.Resource{}}
	seen := map[schema.GroupResource]bool{}
	for _, res := range all {
		verbs := res.SupportedVerbs()
		if !slices.Contains(verbs, "get") {
			continue
		}
		gvk := res.GVK()
		if _, ok := r.byGVK[gvk]; !ok {
			r.byGVK[gvk] = res
		}
		if _, ok := r.byGK[gvk.GroupKind()]; !ok {
			r.byGK[gvk.GroupKind()] = res
		}
		gr := res.GroupResource()
		if seen[gr] || ignored[gr] || !slices.Contains(verbs, "list") || !slices.Contains(verbs, "watch") || !slices.Contains(verbs, "delete") {
			continue
		}
		// One version per group/resource: the first listed is the preferred one.
		seen[gr] = true
		r.watched = append(r.watched, res)
	}
	return r
}

// forRef returns the resource an owner reference's apiVersion and kind name.
func (r *resources) forRef(apiVersion, kind string) (*registry.Resource, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("owner reference apiVersion %q: %w", apiVersion, err)
	}
	if res := r.byGVK[gv.WithKind(kind)]; res != nil {
		return res, nil
	}
	if res := r.byGK[schema.GroupKind{Group: gv.Group, Kind: kind}]; res != nil {
		return res, nil
	}
	return nil, fmt.Errorf("no served resource for %s, Kind=%s", apiVersion, kind)
}
