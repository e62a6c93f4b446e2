package openapi

import (
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const gvkExtension = "x-kubernetes-group-version-kind"

// kindIndex maps Go types to the kinds the scheme registers them as. A type
// can be several kinds: metav1.DeleteOptions and metav1.WatchEvent are
// registered in every group-version.
type kindIndex map[reflect.Type][]schema.GroupVersionKind

func newKindIndex(s *runtime.Scheme) kindIndex {
	idx := kindIndex{}
	for gvk, t := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		idx[t] = append(idx[t], gvk)
	}
	for _, gvks := range idx {
		sortGVKs(gvks)
	}
	return idx
}

// kindsFor returns the kinds of t limited to the served group-versions, the
// set upstream lists in a definition's x-kubernetes-group-version-kind.
func (idx kindIndex) kindsFor(t reflect.Type, served map[schema.GroupVersion]bool) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for _, gvk := range idx[t] {
		if served[gvk.GroupVersion()] {
			out = append(out, gvk)
		}
	}
	return out
}

func sortGVKs(gvks []schema.GroupVersionKind) {
	sort.Slice(gvks, func(i, j int) bool {
		a, b := gvks[i], gvks[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})
}

// gvkValue is the JSON shape of one kind in the extension. It is built from
// plain maps and slices (not structs) because server-side apply's type
// converter reads the extension by type-asserting []interface{} of
// map[string]interface{}.
func gvkValue(gvk schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

// addKindExtensions tags every definition whose type is a registered kind.
func addKindExtensions(g *generator, idx kindIndex, served map[schema.GroupVersion]bool) {
	for name, t := range g.types {
		gvks := idx.kindsFor(t, served)
		if len(gvks) == 0 {
			continue
		}
		list := make([]any, len(gvks))
		for i, gvk := range gvks {
			list[i] = gvkValue(gvk)
		}
		g.defs[name].AddExtension(gvkExtension, list)
	}
}

// closure returns the definitions reachable from roots, roots included.
func closure(g *generator, roots []string) map[string]*spec.Schema {
	out := map[string]*spec.Schema{}
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, seen := out[n]; seen {
			continue
		}
		s, ok := g.defs[n]
		if !ok {
			continue
		}
		out[n] = s
		stack = append(stack, g.deps[n]...)
	}
	return out
}
