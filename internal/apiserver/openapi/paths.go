package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Media types. Operations list what the API can speak; clients only use
// them for documentation, except kubectl apply which looks for the strategic
// merge patch type on PATCH.
const (
	mtJSON        = "application/json"
	mtYAML        = "application/yaml"
	mtProtobuf    = "application/vnd.kubernetes.protobuf"
	mtJSONStream  = "application/json;stream=watch"
	mtProtoStream = "application/vnd.kubernetes.protobuf;stream=watch"
	mtAny         = "*/*"
	mtText        = "text/plain"
)

var (
	objectMediaTypes = []string{mtJSON, mtYAML, mtProtobuf}
	streamMediaTypes = []string{mtJSON, mtYAML, mtProtobuf, mtJSONStream, mtProtoStream}
	patchMediaTypes  = []string{
		"application/apply-patch+yaml",
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
	}
)

// response is one status code of an operation. def is a definition name; an
// empty def with prim set describes a primitive body (pod logs).
type response struct {
	code int
	desc string
	def  string
	prim string
}

// route is one operation on one path, in a flavor-neutral form that v2.go and
// v3.go render.
type route struct {
	gv         schema.GroupVersion
	path       string
	method     string // lower case: get, put, post, patch, delete
	opID       string
	desc       string
	action     string                   // x-kubernetes-action
	gvk        *schema.GroupVersionKind // x-kubernetes-group-version-kind, nil for discovery
	pathParams []param                  // shared by every operation on the path
	query      []param
	body       string // definition name of the request body
	consumes   []string
	produces   []string
	responses  []response
}

// pathBuilder turns Resources into routes and records which Go types the
// routes refer to, so the generators can define them.
type pathBuilder struct {
	scheme *runtime.Scheme
	// roots maps definition names used by routes to their Go types.
	roots  map[string]reflect.Type
	served map[schema.GroupVersion]bool
	routes []route
}

func (b *pathBuilder) def(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n := definitionName(t)
	b.roots[n] = t
	return n
}

func (b *pathBuilder) kindDef(gvk schema.GroupVersionKind) (string, error) {
	obj, err := b.scheme.New(gvk)
	if err != nil {
		return "", fmt.Errorf("openapi: %v is not registered in the scheme: %w", gvk, err)
	}
	return b.def(reflect.TypeOf(obj)), nil
}

var (
	deleteOptionsType = reflect.TypeOf(metav1.DeleteOptions{})
	statusType        = reflect.TypeOf(metav1.Status{})
	watchEventType    = reflect.TypeOf(metav1.WatchEvent{})
	patchType         = reflect.TypeOf(metav1.Patch{})
	resourceListType  = reflect.TypeOf(metav1.APIResourceList{})
)

// subresourceKinds are the kinds exchanged by subresources whose body is not
// the parent object.
var subresourceKinds = map[string]schema.GroupVersionKind{
	"scale":    {Group: "autoscaling", Version: "v1", Kind: "Scale"},
	"binding":  {Group: "", Version: "v1", Kind: "Binding"},
	"eviction": {Group: "policy", Version: "v1", Kind: "Eviction"},
	"token":    {Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"},
}

// addResource emits the operations of one resource and its subresources.
func (b *pathBuilder) addResource(r Resource) error {
	kind, err := b.kindDef(r.GVK)
	if err != nil {
		return err
	}
	// Create-only kinds (access reviews) have no list kind.
	list := ""
	if r.ListGVK.Kind != "" {
		if list, err = b.kindDef(r.ListGVK); err != nil {
			return err
		}
	}
	gv := r.GVK.GroupVersion()
	b.served[gv] = true
	prefix := apiPrefix(gv)
	id := opGroupVersion(gv)
	scope, base, watchBase := "", prefix, prefix+"/watch"
	var scopeParams []param
	if r.Namespaced {
		scope = "Namespaced"
		base += "/namespaces/{namespace}"
		watchBase += "/namespaces/{namespace}"
		scopeParams = []param{pNamespace}
	}
	k := r.GVK.Kind
	gvk := r.GVK
	collection := base + "/" + r.Resource
	item := collection + "/{name}"
	nameParam := pathParam("name", "Name of the "+k+".")
	itemParams := append([]param{nameParam}, scopeParams...)
	status := b.def(statusType)
	verbs := map[string]bool{}
	for _, v := range r.Verbs {
		verbs[v] = true
	}
	add := func(rt route) {
		rt.gv = gv
		if rt.gvk == nil {
			rt.gvk = &gvk
		}
		b.routes = append(b.routes, rt)
	}
	ok := func(def string, codes ...int) []response { return responses(def, codes...) }

	if verbs["list"] {
		add(route{path: collection, method: "get", opID: "list" + id + scope + k, action: "list",
			desc: "List or watch " + k + " objects.", pathParams: scopeParams, query: listParams,
			produces: streamMediaTypes, responses: ok(list, 200)})
		if r.Namespaced {
			add(route{path: prefix + "/" + r.Resource, method: "get", opID: "list" + id + k + "ForAllNamespaces",
				action: "list", desc: "List or watch " + k + " objects across all namespaces.", query: listParams,
				produces: streamMediaTypes, responses: ok(list, 200)})
		}
	}
	if verbs["watch"] {
		we := b.def(watchEventType)
		add(route{path: watchBase + "/" + r.Resource, method: "get", opID: "watch" + id + scope + k + "List",
			action: "watchlist", desc: "Watch changes to " + k + " objects. Deprecated: use list with watch=true.",
			pathParams: scopeParams, query: listParams, produces: streamMediaTypes, responses: ok(we, 200)})
		add(route{path: watchBase + "/" + r.Resource + "/{name}", method: "get", opID: "watch" + id + scope + k,
			action: "watch", desc: "Watch changes to one " + k + ". Deprecated: use list with watch=true and a " +
				"metadata.name field selector.",
			pathParams: itemParams, query: listParams, produces: streamMediaTypes, responses: ok(we, 200)})
		if r.Namespaced {
			add(route{path: prefix + "/watch/" + r.Resource, method: "get",
				opID: "watch" + id + k + "ListForAllNamespaces", action: "watchlist",
				desc:  "Watch changes to " + k + " objects across all namespaces. Deprecated: use list with watch=true.",
				query: listParams, produces: streamMediaTypes, responses: ok(we, 200)})
		}
	}
	if verbs["create"] {
		add(route{path: collection, method: "post", opID: "create" + id + scope + k, action: "post",
			desc: "Create a " + k + ".", pathParams: scopeParams, query: writeParams, body: kind,
			consumes: []string{mtAny}, produces: objectMediaTypes, responses: ok(kind, 200, 201, 202)})
	}
	if verbs["deletecollection"] {
		add(route{path: collection, method: "delete", opID: "delete" + id + "Collection" + scope + k,
			action: "deletecollection", desc: "Delete a collection of " + k + " objects.", pathParams: scopeParams,
			query: deleteCollectionParams, body: b.def(deleteOptionsType), consumes: []string{mtAny},
			produces: objectMediaTypes, responses: ok(status, 200)})
	}
	if verbs["get"] {
		add(route{path: item, method: "get", opID: "read" + id + scope + k, action: "get",
			desc: "Read the specified " + k + ".", pathParams: itemParams, produces: objectMediaTypes,
			responses: ok(kind, 200)})
	}
	if verbs["update"] {
		add(route{path: item, method: "put", opID: "replace" + id + scope + k, action: "put",
			desc: "Replace the specified " + k + ".", pathParams: itemParams, query: writeParams, body: kind,
			consumes: []string{mtAny}, produces: objectMediaTypes, responses: ok(kind, 200, 201)})
	}
	if verbs["patch"] {
		add(route{path: item, method: "patch", opID: "patch" + id + scope + k, action: "patch",
			desc: "Partially update the specified " + k + ".", pathParams: itemParams, query: patchParams,
			body: b.def(patchType), consumes: patchMediaTypes, produces: objectMediaTypes,
			responses: ok(kind, 200, 201)})
	}
	if verbs["delete"] {
		add(route{path: item, method: "delete", opID: "delete" + id + scope + k, action: "delete",
			desc: "Delete the specified " + k + ".", pathParams: itemParams, query: deleteParams,
			body: b.def(deleteOptionsType), consumes: []string{mtAny}, produces: objectMediaTypes,
			responses: ok(status, 200, 202)})
	}

	for _, sub := range r.Subresources {
		subPath := item + "/" + sub
		suffix := upperFirst(sub)
		switch sub {
		case "status", "ephemeralcontainers", "resize", "approval", "scale":
			body, subGVK := kind, gvk
			if sub == "scale" {
				subGVK = subresourceKinds[sub]
				if body, err = b.kindDef(subGVK); err != nil {
					return err
				}
				b.served[subGVK.GroupVersion()] = true
			}
			g := subGVK
			add(route{path: subPath, method: "get", opID: "read" + id + scope + k + suffix, action: "get",
				desc: "Read the " + sub + " of the specified " + k + ".", pathParams: itemParams, gvk: &g,
				produces: objectMediaTypes, responses: ok(body, 200)})
			add(route{path: subPath, method: "put", opID: "replace" + id + scope + k + suffix, action: "put",
				desc: "Replace the " + sub + " of the specified " + k + ".", pathParams: itemParams, gvk: &g,
				query: writeParams, body: body, consumes: []string{mtAny}, produces: objectMediaTypes,
				responses: ok(body, 200, 201)})
			add(route{path: subPath, method: "patch", opID: "patch" + id + scope + k + suffix, action: "patch",
				desc: "Partially update the " + sub + " of the specified " + k + ".", pathParams: itemParams,
				gvk: &g, query: patchParams, body: b.def(patchType), consumes: patchMediaTypes,
				produces: objectMediaTypes, responses: ok(body, 200, 201)})
		case "binding", "eviction", "token":
			subGVK := subresourceKinds[sub]
			body, err := b.kindDef(subGVK)
			if err != nil {
				return err
			}
			b.served[subGVK.GroupVersion()] = true
			add(route{path: subPath, method: "post", opID: "create" + id + scope + k + suffix, action: "post",
				desc: "Create the " + sub + " of the specified " + k + ".", pathParams: itemParams, gvk: &subGVK,
				query: writeParams, body: body, consumes: []string{mtAny}, produces: objectMediaTypes,
				responses: ok(body, 200, 201, 202)})
		case "log":
			add(route{path: subPath, method: "get", opID: "read" + id + scope + k + suffix, action: "get",
				desc: "Read the log of the specified " + k + ".", pathParams: itemParams, query: logParams,
				produces:  []string{mtText, mtJSON, mtYAML, mtProtobuf},
				responses: []response{{code: 200, desc: "OK", prim: "string"}, unauthorized}})
		default:
			// Streaming subresources (exec, attach, portforward, proxy) have
			// no schema worth describing; they are left out.
		}
	}
	return nil
}

// addDiscovery adds the APIResourceList endpoint of every served
// group-version; upstream documents it in each group-version's document.
func (b *pathBuilder) addDiscovery() {
	list := b.def(resourceListType)
	gvs := make([]schema.GroupVersion, 0, len(b.served))
	for gv := range b.served {
		gvs = append(gvs, gv)
	}
	sort.Slice(gvs, func(i, j int) bool { return gvs[i].String() < gvs[j].String() })
	for _, gv := range gvs {
		if !b.hasRoutes(gv) {
			continue
		}
		b.routes = append(b.routes, route{gv: gv, path: apiPrefix(gv) + "/", method: "get",
			opID: "get" + opGroupVersion(gv) + "APIResources", desc: "Get the resources available in " +
				strings.TrimPrefix(gv.String(), "/") + ".",
			produces: objectMediaTypes, responses: responses(list, 200)})
	}
}

func (b *pathBuilder) hasRoutes(gv schema.GroupVersion) bool {
	for _, r := range b.routes {
		if r.gv == gv {
			return true
		}
	}
	return false
}

var unauthorized = response{code: 401, desc: "Unauthorized"}

var statusText = map[int]string{200: "OK", 201: "Created", 202: "Accepted"}

func responses(def string, codes ...int) []response {
	out := make([]response, 0, len(codes)+1)
	for _, c := range codes {
		out = append(out, response{code: c, desc: statusText[c], def: def})
	}
	return append(out, unauthorized)
}
