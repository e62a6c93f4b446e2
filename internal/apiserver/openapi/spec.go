package openapi

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Resource describes one served REST resource.
type Resource struct {
	GVK        schema.GroupVersionKind // e.g. apps/v1 Deployment
	ListGVK    schema.GroupVersionKind // e.g. apps/v1 DeploymentList; empty for create-only kinds
	Resource   string                  // plural, e.g. "deployments"
	Namespaced bool
	// Subresources with a documented shape: status, scale (autoscaling/v1
	// Scale), binding, eviction, ephemeralcontainers, resize, approval,
	// token, log. Others (exec, attach, portforward, proxy) are skipped.
	Subresources []string
	// Verbs: get list watch create update patch delete deletecollection.
	Verbs []string
}

// Spec holds the serialized documents, built once by New.
type Spec struct {
	v2JSON  []byte
	v2Proto []byte
	v2ETag  string

	// v3 documents by index key ("api/v1", "apis/apps/v1").
	v3      map[string]*document
	v3Index *document

	schemas map[string]*spec.Schema

	handlerOnce sync.Once
	handler     http.Handler
}

// document is one serialized response body with its strong validator.
type document struct {
	body []byte
	// etag is upstream's: the upper-case hex SHA-512 of the body. It doubles
	// as the hash query parameter of the v3 index.
	etag string
}

func newDocument(body []byte) *document {
	return &document{body: body, etag: fmt.Sprintf("%X", sha512.Sum512(body))}
}

// New builds every document for the given resources. scheme must know the
// resources' kinds and list kinds (and autoscaling/v1 Scale, policy/v1
// Eviction... for the subresources that use them); version is reported as
// info.version.
func New(scheme *runtime.Scheme, resources []Resource, version string) (*Spec, error) {
	b := &pathBuilder{scheme: scheme, roots: map[string]reflect.Type{}, served: map[schema.GroupVersion]bool{}}
	for _, r := range resources {
		if err := b.addResource(r); err != nil {
			return nil, err
		}
	}
	b.addDiscovery()

	kinds := newKindIndex(scheme)
	gens := [2]*generator{newGenerator(flavorV2), newGenerator(flavorV3)}
	for _, g := range gens {
		rootNames := make([]string, 0, len(b.roots))
		for n := range b.roots {
			rootNames = append(rootNames, n)
		}
		sort.Strings(rootNames) // deterministic collision errors
		for _, n := range rootNames {
			g.define(b.roots[n])
		}
		if g.err != nil {
			return nil, g.err
		}
		addKindExtensions(g, kinds, b.served)
	}

	s := &Spec{v3: map[string]*document{}, schemas: gens[1].defs}

	// MarshalJSON directly: json.Marshal would re-validate and compact
	// megabytes of output that are already compact.
	v2, err := buildV2(b.routes, gens[0].defs, version).MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("openapi: marshal v2: %w", err)
	}
	s.v2JSON = v2
	s.v2ETag = newDocument(v2).etag
	if s.v2Proto, err = toProtoV2(v2); err != nil {
		return nil, fmt.Errorf("openapi: v2 protobuf: %w", err)
	}

	byGV := map[schema.GroupVersion][]route{}
	for _, r := range b.routes {
		byGV[r.gv] = append(byGV[r.gv], r)
	}
	index := indexDoc{Paths: map[string]indexEntry{}}
	for gv, routes := range byGV {
		doc := buildV3(routes, closure(gens[1], routeDefs(routes)), version)
		body, err := doc.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("openapi: marshal v3 %s: %w", gv, err)
		}
		d := newDocument(body)
		key := docKey(gv)
		s.v3[key] = d
		index.Paths[key] = indexEntry{ServerRelativeURL: "/openapi/v3/" + key + "?hash=" + d.etag}
	}
	body, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	s.v3Index = newDocument(body)
	return s, nil
}

// indexDoc is the body of GET /openapi/v3, the format client-go's openapi
// client reads (k8s.io/kube-openapi/pkg/handler3.OpenAPIV3Discovery).
type indexDoc struct {
	Paths map[string]indexEntry `json:"paths"`
}

type indexEntry struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// routeDefs lists the definitions routes refer to directly.
func routeDefs(routes []route) []string {
	var out []string
	for _, r := range routes {
		if r.body != "" {
			out = append(out, r.body)
		}
		for _, resp := range r.responses {
			if resp.def != "" {
				out = append(out, resp.def)
			}
		}
	}
	return out
}

// Schemas returns the OpenAPI v3 definitions of every type the served
// resources use, keyed by definition name. References inside them point at
// #/components/schemas/<name>. This is the input
// k8s.io/apimachinery/pkg/util/managedfields.NewTypeConverter expects.
// The schemas are shared: callers must not modify them.
func (s *Spec) Schemas() map[string]*spec.Schema {
	out := make(map[string]*spec.Schema, len(s.schemas))
	for k, v := range s.schemas {
		out[k] = v
	}
	return out
}
