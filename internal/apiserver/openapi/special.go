package openapi

import (
	"reflect"
	"time"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Hooks apimachinery types implement to say how they look on the wire when
// their Go shape differs from their JSON (Quantity, IntOrString, Time,
// MicroTime, Duration). They are the same hooks openapi-gen consults.
type (
	schemaTyper       interface{ OpenAPISchemaType() []string }
	schemaFormatter   interface{ OpenAPISchemaFormat() string }
	v3OneOfTypesTyper interface{ OpenAPIV3OneOfTypes() []string }
)

// opaqueObjects are types whose JSON is an arbitrary object that reflection
// cannot see (their Go fields are json:"-" or unexported). Listing them makes
// the intent explicit instead of relying on "no exported fields".
var opaqueObjects = map[string]bool{
	"io.k8s.apimachinery.pkg.runtime.RawExtension":  true,
	"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": true,
	"io.k8s.apimachinery.pkg.apis.meta.v1.Patch":    true,
	"io.k8s.apimachinery.pkg.runtime.Unknown":       true,
}

// typeDescriptions fills in descriptions for types that have no SwaggerDoc()
// method. The wording is ours.
var typeDescriptions = map[string]string{
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "Quantity is a fixed-point number with an optional unit suffix, " +
		"written as a string such as \"100m\", \"1.5\", \"128Mi\" or \"2Gi\". Binary suffixes (Ki, Mi, Gi, Ti, Pi, Ei) " +
		"are powers of 1024, decimal suffixes (m, k, M, G, T, P, E) powers of 1000, and exponents (1e3) are allowed. " +
		"Servers re-emit quantities in canonical form.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString holds either an integer or a string, for fields " +
		"that accept both, such as a port given by number or by name.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time": "Time is a timestamp serialized as an RFC 3339 string with " +
		"second precision.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime is a timestamp serialized as an RFC 3339 string " +
		"with microsecond precision.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "Duration is a time span written as a Go duration string, " +
		"for example \"30s\" or \"1h5m\".",
	"io.k8s.apimachinery.pkg.runtime.RawExtension": "RawExtension holds an embedded object in its own " +
		"serialized form; its content is described by its own apiVersion and kind.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent": "WatchEvent is one event of a watch stream: the event " +
		"type (ADDED, MODIFIED, DELETED, BOOKMARK or ERROR) and the object it concerns.",
}

var timeType = reflect.TypeOf(time.Time{})

// specialSchema returns the schema of a type whose JSON form is not its Go
// struct shape, or ok=false for ordinary types.
func specialSchema(t reflect.Type, name string, f flavor) (s spec.Schema, ok bool) {
	if opaqueObjects[name] {
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"object"}}}, true
	}
	v := reflect.Zero(t).Interface()
	typer, ok := v.(schemaTyper)
	if !ok {
		return s, false
	}
	types := typer.OpenAPISchemaType()
	format := ""
	if fm, ok := v.(schemaFormatter); ok {
		format = fm.OpenAPISchemaFormat()
	}
	s.Format = format
	if oneOf, ok := v.(v3OneOfTypesTyper); ok && f == flavorV3 {
		// OpenAPI v3 can say "string or number" honestly; v2 cannot and
		// keeps the single wire type.
		for _, typ := range oneOf.OpenAPIV3OneOfTypes() {
			s.OneOf = append(s.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{typ}}})
		}
	} else {
		s.Type = types
	}
	if format == "int-or-string" {
		s.AddExtension("x-kubernetes-int-or-string", true)
	}
	return s, true
}

// isObjectType reports whether values of struct type t serialize as JSON
// objects, which is what decides whether v3 gives them a {} default.
func isObjectType(t reflect.Type) bool {
	if t == timeType {
		return false
	}
	_, special := reflect.Zero(t).Interface().(schemaTyper)
	return !special
}
