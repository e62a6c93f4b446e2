package openapi

import (
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// modelNamer is implemented by the types of k8s.io/api and
// k8s.io/apimachinery (zz_generated.model_name.go). When present it is the
// authoritative definition name, so we never disagree with upstream about it.
type modelNamer interface {
	OpenAPIModelName() string
}

// definitionName returns the OpenAPI definition name of a named Go type:
// upstream's name when the type declares one, otherwise a name derived from
// the package path the same way upstream derives it
// (k8s.io/api/core/v1.Pod -> io.k8s.api.core.v1.Pod).
func definitionName(t reflect.Type) string {
	if n, ok := declaredModelName(t); ok {
		return n
	}
	return nameFromPackage(t.PkgPath(), t.Name())
}

// declaredModelName returns t's OpenAPIModelName unless the method is only
// promoted from an embedded field (a type embedding metav1.TypeMeta is not
// called TypeMeta).
func declaredModelName(t reflect.Type) (string, bool) {
	name, ok := modelNameOf(t)
	if !ok || t.Kind() != reflect.Struct {
		return name, ok
	}
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Anonymous {
			if inner, ok := modelNameOf(f.Type); ok && inner == name {
				return "", false
			}
		}
	}
	return name, true
}

func modelNameOf(t reflect.Type) (string, bool) {
	if n, ok := reflect.Zero(t).Interface().(modelNamer); ok && t.Kind() != reflect.Pointer {
		return n.OpenAPIModelName(), true
	}
	if n, ok := reflect.New(t).Interface().(modelNamer); ok {
		return n.OpenAPIModelName(), true
	}
	return "", false
}

// nameFromPackage reverses the domain part of a Go import path and joins the
// rest with dots: "k8s.io/apimachinery/pkg/apis/meta/v1", "Time" becomes
// "io.k8s.apimachinery.pkg.apis.meta.v1.Time".
func nameFromPackage(pkgPath, name string) string {
	segments := strings.Split(pkgPath, "/")
	host := strings.Split(segments[0], ".")
	parts := make([]string, 0, len(host)+len(segments))
	for i := len(host) - 1; i >= 0; i-- {
		parts = append(parts, host[i])
	}
	parts = append(parts, segments[1:]...)
	parts = append(parts, name)
	return strings.Join(parts, ".")
}

// groupIdent is the group part of operation ids and tags: "" is "core",
// "rbac.authorization.k8s.io" is "rbacAuthorization", "apps" is "apps".
func groupIdent(group string) string {
	if group == "" {
		return "core"
	}
	parts := strings.Split(strings.TrimSuffix(group, ".k8s.io"), ".")
	for i := 1; i < len(parts); i++ {
		parts[i] = upperFirst(parts[i])
	}
	return strings.Join(parts, "")
}

// opGroupVersion is the group-version infix of operation ids, e.g.
// "CoreV1", "AppsV1", "RbacAuthorizationV1".
func opGroupVersion(gv schema.GroupVersion) string {
	return upperFirst(groupIdent(gv.Group)) + upperFirst(gv.Version)
}

// tag is the operation tag of a group-version, e.g. "core_v1", "apps_v1".
func tag(gv schema.GroupVersion) string {
	return groupIdent(gv.Group) + "_" + gv.Version
}

// docKey is the key of a group-version in the /openapi/v3 index and the
// path suffix of its document: "api/v1" or "apis/apps/v1".
func docKey(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// apiPrefix is the URL prefix a group-version is served under.
func apiPrefix(gv schema.GroupVersion) string {
	return "/" + docKey(gv)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
