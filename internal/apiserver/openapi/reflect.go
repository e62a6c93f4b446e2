package openapi

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// flavor selects the dialect a generator writes. Both documents describe the
// same types, but differ in details clients rely on:
//   - refs point at #/definitions/ (v2) or #/components/schemas/ (v3);
//   - v3 wraps a ref in allOf so that a sibling description is legal, and
//     carries defaults (v2 never had them upstream);
//   - v3 can express "string or number" (oneOf), v2 keeps the wire type.
type flavor int

const (
	flavorV2 flavor = iota
	flavorV3
)

func (f flavor) refPrefix() string {
	if f == flavorV2 {
		return "#/definitions/"
	}
	return "#/components/schemas/"
}

// generator turns Go types into OpenAPI definitions of one flavor.
type generator struct {
	flavor flavor
	defs   map[string]*spec.Schema
	// deps records, for every definition, the definitions it refers to, so a
	// document can carry exactly the closure of what its paths use.
	deps  map[string][]string
	types map[string]reflect.Type
	err   error
}

func newGenerator(f flavor) *generator {
	return &generator{
		flavor: f,
		defs:   map[string]*spec.Schema{},
		deps:   map[string][]string{},
		types:  map[string]reflect.Type{},
	}
}

// isDefinition reports whether t gets its own named definition (and is
// referenced) rather than being inlined. Upstream names every named struct;
// named scalars, slices and maps (Protocol, ResourceList) are inlined.
func isDefinition(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.Name() != "" && t.PkgPath() != "" && t != timeType
}

// define makes sure the named struct type t has a definition and returns its
// name.
func (g *generator) define(t reflect.Type) string {
	name := definitionName(t)
	if prev, ok := g.types[name]; ok {
		if prev != t && g.err == nil {
			g.err = fmt.Errorf("openapi: types %v and %v both map to definition %q", prev, t, name)
		}
		return name
	}
	// Register before walking so recursive types terminate.
	g.types[name] = t
	deps := map[string]bool{}
	s, ok := specialSchema(t, name, g.flavor)
	if !ok {
		s = g.structSchema(t, deps)
	}
	if s.Description == "" {
		s.Description = swaggerDoc(t)[""]
	}
	if d, ok := typeDescriptions[name]; ok && s.Description == "" {
		s.Description = d
	}
	if atomicStructs[name] {
		s.AddExtension("x-kubernetes-map-type", "atomic")
	}
	g.defs[name] = &s
	list := make([]string, 0, len(deps))
	for d := range deps {
		list = append(list, d)
	}
	sort.Strings(list)
	g.deps[name] = list
	return name
}

// structSchema describes a struct as an object with one property per JSON
// field.
func (g *generator) structSchema(t reflect.Type, deps map[string]bool) spec.Schema {
	s := spec.Schema{SchemaProps: spec.SchemaProps{
		Type:       []string{"object"},
		Properties: map[string]spec.Schema{},
	}}
	s.Description = swaggerDoc(t)[""]
	var required []string
	g.collectFields(t, &s, &required, deps, 0)
	if len(s.Properties) == 0 {
		s.Properties = nil
	}
	sort.Strings(required)
	s.Required = required
	return s
}

// collectFields adds the JSON fields of t to s. Embedded structs without a
// JSON name are flattened (json:",inline"), the same rule encoding/json
// applies; fields of the outer struct win over flattened ones.
func (g *generator) collectFields(t reflect.Type, s *spec.Schema, required *[]string, deps map[string]bool, depth int) {
	docs := swaggerDoc(t)
	owner := definitionNameOrEmpty(t)
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, exists := s.Properties[name]; exists && depth > 0 {
			continue
		}
		omitempty := hasOpt(opts, "omitempty") || hasOpt(opts, "omitzero")
		prop := g.valueSchema(f.Type, deps, omitempty, false)
		desc := docs[name]
		prop.Description = desc
		ov := fieldOverrides[owner+"."+name]
		g.patchExtensions(&prop, f, ov)
		if ov.def != nil && g.flavor == flavorV3 {
			prop.Default = ov.def
		}
		s.Properties[name] = prop
		if isRequired(owner+"."+name, omitempty, desc) {
			*required = append(*required, name)
		}
	}
	for _, et := range embedded {
		g.collectFields(et, s, required, deps, depth+1)
	}
}

// valueSchema describes a value of type t appearing as a property, array
// item (elem) or map value (elem). omitempty is the field's json option.
func (g *generator) valueSchema(t reflect.Type, deps map[string]bool, omitempty, elem bool) spec.Schema {
	pointer := false
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		pointer = true
	}
	// Upstream v3 gives non-pointer values a default of their zero value:
	// {} for structs always, scalars when they cannot be omitted.
	zeroDefault := g.flavor == flavorV3 && !pointer && (elem || !omitempty)
	if isDefinition(t) {
		name := g.define(t)
		deps[name] = true
		ref := spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(g.flavor.refPrefix() + name)}}
		if g.flavor == flavorV2 {
			return ref
		}
		s := spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{ref}}}
		if !pointer && isObjectType(t) {
			s.Default = map[string]any{}
		}
		return s
	}
	var s spec.Schema
	switch t.Kind() {
	case reflect.String:
		s.Type = []string{"string"}
		if zeroDefault {
			s.Default = ""
		}
	case reflect.Bool:
		s.Type = []string{"boolean"}
		if zeroDefault {
			s.Default = false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		s.Type, s.Format = []string{"integer"}, "int32"
		if zeroDefault {
			s.Default = 0
		}
	case reflect.Int64, reflect.Uint64:
		s.Type, s.Format = []string{"integer"}, "int64"
		if zeroDefault {
			s.Default = 0
		}
	case reflect.Float32:
		s.Type, s.Format = []string{"number"}, "float"
	case reflect.Float64:
		s.Type, s.Format = []string{"number"}, "double"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			// []byte is base64 on the wire.
			s.Type, s.Format = []string{"string"}, "byte"
			break
		}
		item := g.valueSchema(t.Elem(), deps, false, true)
		s.Type = []string{"array"}
		s.Items = &spec.SchemaOrArray{Schema: &item}
	case reflect.Map:
		val := g.valueSchema(t.Elem(), deps, false, true)
		s.Type = []string{"object"}
		s.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &val}
	case reflect.Struct:
		if t == timeType {
			s.Type, s.Format = []string{"string"}, "date-time"
			break
		}
		// Anonymous struct: describe it in place.
		s = g.structSchema(t, deps)
	case reflect.Interface:
		// Any JSON value; an empty schema says exactly that.
	}
	return s
}

// patchExtensions copies the strategic-merge-patch struct tags into the
// extensions kubectl (strategic merge) and server-side apply read, and
// derives the list type SSA would infer from them anyway.
func (g *generator) patchExtensions(prop *spec.Schema, f reflect.StructField, ov fieldOverride) {
	strategy := f.Tag.Get("patchStrategy")
	key := f.Tag.Get("patchMergeKey")
	if strategy != "" {
		prop.AddExtension("x-kubernetes-patch-strategy", strategy)
	}
	if key != "" {
		prop.AddExtension("x-kubernetes-patch-merge-key", key)
	}
	ft := f.Type
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft.Kind() == reflect.Map && ov.mapAtomic {
		prop.AddExtension("x-kubernetes-map-type", "atomic")
	}
	if ft.Kind() != reflect.Slice || ft.Elem().Kind() == reflect.Uint8 {
		return
	}
	switch {
	case ov.listAtomic:
		prop.AddExtension("x-kubernetes-list-type", "atomic")
	case ov.listMapKeys != nil:
		prop.AddExtension("x-kubernetes-list-type", "map")
		prop.AddExtension("x-kubernetes-list-map-keys", toAnySlice(ov.listMapKeys))
	case !hasOpt(strategy, "merge"):
		// No merge strategy: lists are replaced whole, which is SSA's
		// default too; say nothing rather than guess.
	case key != "":
		prop.AddExtension("x-kubernetes-list-type", "map")
		prop.AddExtension("x-kubernetes-list-map-keys", toAnySlice([]string{key}))
	case isScalarKind(ft.Elem()):
		prop.AddExtension("x-kubernetes-list-type", "set")
	}
}

// optionalDoc matches descriptions that call a field optional. Such fields
// are not marked required even without omitempty: a false "required" makes
// validating clients reject valid objects, a missing one costs nothing.
var optionalDoc = regexp.MustCompile(`(?i)\boptional\b|\bdefaults? to\b|\bif (unset|not set|empty|omitted|unspecified)\b`)

// isRequired approximates upstream's rule: a field is required unless it
// has omitempty or a +optional marker. Markers are invisible to reflection;
// optionalFields restates them for the current k8s.io/api, and a description
// calling the field optional is taken as a stand-in for the marker.
// key is "<declaring type definition name>.<json field name>".
func isRequired(key string, omitempty bool, desc string) bool {
	if omitempty || optionalFields[key] {
		return false
	}
	// metadata is never worth a "missing required field" complaint.
	if strings.HasSuffix(key, ".metadata") {
		return false
	}
	return !optionalDoc.MatchString(desc)
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func isScalarKind(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array, reflect.Interface:
		return false
	}
	return true
}

func toAnySlice(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

// swaggerDoc returns the field documentation k8s.io/api types carry in their
// generated SwaggerDoc() method ("" is the type itself).
// A method promoted from an embedded field documents that field's type,
// not t, and is ignored.
func swaggerDoc(t reflect.Type) map[string]string {
	docs := swaggerDocOf(t)
	if docs == nil || t.Kind() != reflect.Struct {
		return docs
	}
	p := reflect.ValueOf(docs).Pointer()
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Anonymous {
			if inner := swaggerDocOf(f.Type); inner != nil && reflect.ValueOf(inner).Pointer() == p {
				return nil
			}
		}
	}
	return docs
}

func swaggerDocOf(t reflect.Type) map[string]string {
	type documented interface{ SwaggerDoc() map[string]string }
	if d, ok := reflect.Zero(t).Interface().(documented); ok && t.Kind() != reflect.Pointer {
		return d.SwaggerDoc()
	}
	if d, ok := reflect.New(t).Interface().(documented); ok {
		return d.SwaggerDoc()
	}
	return nil
}

func definitionNameOrEmpty(t reflect.Type) string {
	if t.Name() == "" || t.PkgPath() == "" {
		return ""
	}
	return definitionName(t)
}
