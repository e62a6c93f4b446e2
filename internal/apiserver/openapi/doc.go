// Package openapi builds and serves the OpenAPI documents of skiff's
// built-in API.
//
// It owns three things:
//
//   - Schema generation: the Go types registered in a runtime.Scheme are
//     walked with reflection (json tags, SwaggerDoc() descriptions,
//     patchStrategy/patchMergeKey tags, the OpenAPISchemaType()/
//     OpenAPIModelName() hooks of apimachinery) and turned into OpenAPI
//     definitions named like upstream's (io.k8s.api.core.v1.Pod, ...).
//     Nothing is generated ahead of time: there is no openapi-gen step and
//     no generated code to keep in sync with k8s.io/api.
//   - Path generation: for every served Resource the standard REST
//     operations are described with upstream's operationId scheme and
//     vendor extensions. Clients depend on these details: kubectl looks for
//     the fieldValidation query parameter on PATCH operations to decide
//     that the server validates fields itself, kubectl explain finds a
//     resource's kind through x-kubernetes-group-version-kind on its
//     operations, and kubectl apply reads the patch merge keys.
//   - Serving: /openapi/v2 (JSON or protobuf) and /openapi/v3 (an index
//     plus one document per group-version), with ETag and hash-based
//     caching like upstream.
//
// All documents are built once, in New, and served from memory: the set of
// built-in types does not change while the server runs.
package openapi
