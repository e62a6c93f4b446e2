package openapi

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

const bearerToken = "BearerToken"

// buildV2 renders routes and definitions as one Swagger 2.0 document.
func buildV2(routes []route, defs map[string]*spec.Schema, version string) *spec.Swagger {
	sw := &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: version}},
		Paths:       &spec.Paths{Paths: map[string]spec.PathItem{}},
		Definitions: spec.Definitions{},
		Parameters:  map[string]spec.Parameter{},
		SecurityDefinitions: spec.SecurityDefinitions{bearerToken: &spec.SecurityScheme{
			SecuritySchemeProps: spec.SecuritySchemeProps{
				Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer token authentication",
			},
		}},
		Security: []map[string][]string{{bearerToken: {}}},
	}}
	for name, s := range defs {
		sw.Definitions[name] = *s
	}
	for _, r := range routes {
		item := sw.Paths.Paths[r.path]
		if item.Parameters == nil {
			// Path parameters and pretty are shared by every operation on a
			// path, as upstream lays them out.
			for _, p := range r.pathParams {
				item.Parameters = append(item.Parameters, v2Param(p))
			}
			item.Parameters = append(item.Parameters, globalParamRef(sw, pPretty))
		}
		op := &spec.Operation{OperationProps: spec.OperationProps{
			Description: r.desc,
			Consumes:    r.consumes,
			Produces:    r.produces,
			Schemes:     []string{"https"},
			Tags:        []string{tag(r.gv)},
			ID:          r.opID,
			Responses:   &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{}}},
		}}
		if r.body != "" {
			op.Parameters = append(op.Parameters, spec.Parameter{ParamProps: spec.ParamProps{
				Name: "body", In: "body", Required: true, Schema: v2Ref(r.body),
			}})
		}
		for _, p := range r.query {
			// Query parameters are shared through #/parameters like
			// upstream; kubectl's fieldValidation check follows these refs.
			op.Parameters = append(op.Parameters, globalParamRef(sw, p))
		}
		for _, resp := range r.responses {
			out := spec.Response{ResponseProps: spec.ResponseProps{Description: resp.desc}}
			switch {
			case resp.def != "":
				out.Schema = v2Ref(resp.def)
			case resp.prim != "":
				out.Schema = &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{resp.prim}}}
			}
			op.Responses.StatusCodeResponses[resp.code] = out
		}
		if r.action != "" {
			op.AddExtension("x-kubernetes-action", r.action)
		}
		if r.gvk != nil {
			op.AddExtension(gvkExtension, gvkValue(*r.gvk))
		}
		switch r.method {
		case "get":
			item.Get = op
		case "put":
			item.Put = op
		case "post":
			item.Post = op
		case "patch":
			item.Patch = op
		case "delete":
			item.Delete = op
		}
		sw.Paths.Paths[r.path] = item
	}
	return sw
}

func v2Ref(def string) *spec.Schema {
	return &spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(flavorV2.refPrefix() + def)}}
}

func v2Param(p param) spec.Parameter {
	return spec.Parameter{
		ParamProps:   spec.ParamProps{Name: p.name, In: p.in, Description: p.desc, Required: p.required},
		SimpleSchema: spec.SimpleSchema{Type: p.typ},
	}
}

// globalParamRef registers p under #/parameters and returns a reference to
// it. The key is the name plus a digest of the whole parameter, so that two
// parameters with one name but different text (fieldManager on PATCH) do
// not clash.
func globalParamRef(sw *spec.Swagger, p param) spec.Parameter {
	sum := sha256.Sum256([]byte(p.name + "\x00" + p.in + "\x00" + p.typ + "\x00" + p.desc))
	key := p.name + "-" + strings.ToLower(base32.StdEncoding.EncodeToString(sum[:])[:8])
	sw.Parameters[key] = v2Param(p)
	return spec.Parameter{Refable: spec.Refable{Ref: spec.MustCreateRef("#/parameters/" + key)}}
}
