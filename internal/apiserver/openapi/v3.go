package openapi

import (
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// buildV3 renders the routes of one group-version, with the definitions they
// reach, as an OpenAPI 3.0 document. Unlike v2, parameters are inlined in
// every operation: that is what upstream serves and what kubectl's
// fieldValidation check reads first.
func buildV3(routes []route, defs map[string]*spec.Schema, version string) *spec3.OpenAPI {
	doc := &spec3.OpenAPI{
		Version: "3.0.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: version}},
		Paths:   &spec3.Paths{Paths: map[string]*spec3.Path{}},
		Components: &spec3.Components{
			Schemas: defs,
			SecuritySchemes: spec3.SecuritySchemes{bearerToken: &spec3.SecurityScheme{
				SecuritySchemeProps: spec3.SecuritySchemeProps{
					Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer token authentication",
				},
			}},
		},
		SecurityRequirement: []map[string][]string{{bearerToken: {}}},
	}
	for _, r := range routes {
		item := doc.Paths.Paths[r.path]
		if item == nil {
			item = &spec3.Path{}
			for _, p := range r.pathParams {
				item.Parameters = append(item.Parameters, v3Param(p))
			}
			item.Parameters = append(item.Parameters, v3Param(pPretty))
			doc.Paths.Paths[r.path] = item
		}
		op := &spec3.Operation{OperationProps: spec3.OperationProps{
			Tags:        []string{tag(r.gv)},
			Description: r.desc,
			OperationId: r.opID,
			Responses:   &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{}}},
		}}
		for _, p := range r.query {
			op.Parameters = append(op.Parameters, v3Param(p))
		}
		if r.body != "" {
			content := map[string]*spec3.MediaType{}
			for _, mt := range r.consumes {
				content[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: v3Ref(r.body)}}
			}
			op.RequestBody = &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{Content: content, Required: true}}
		}
		for _, resp := range r.responses {
			out := &spec3.Response{ResponseProps: spec3.ResponseProps{Description: resp.desc}}
			var schema *spec.Schema
			switch {
			case resp.def != "":
				schema = v3Ref(resp.def)
			case resp.prim != "":
				schema = &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{resp.prim}}}
			}
			if schema != nil {
				out.Content = map[string]*spec3.MediaType{}
				for _, mt := range r.produces {
					out.Content[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: schema}}
				}
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
	}
	return doc
}

func v3Ref(def string) *spec.Schema {
	return &spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(flavorV3.refPrefix() + def)}}
}

func v3Param(p param) *spec3.Parameter {
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: p.name, In: p.in, Description: p.desc, Required: p.required,
		Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{p.typ}}},
	}}
}
