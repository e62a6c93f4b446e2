// Package validation checks built-in objects the way the Kubernetes API
// server does, after defaulting, on the versioned (k8s.io/api) types.
//
// It owns:
//   - Validate: the spec-level rules of a new object (metadata is validated
//     by the caller, which gets the per-kind name rule from NameValidator);
//   - ValidateUpdate: the same rules on the new object plus the fields that
//     may not change, as upstream's validation and registry strategies
//     enforce them;
//   - NameValidator: the metadata.name rule of each kind.
//
// Field paths, error types and messages follow upstream
// (pkg/apis/<group>/validation) because clients show them to users and some
// tools match on them, including a few of upstream's odd paths. Rules that
// depend on cluster state (quota, admission, allocators) are not here, with
// one exception noted in the Service rules: the default NodePort range.
//
// Feature-gated rules are applied as the gate's default in the Kubernetes
// release matching k8s.io/api; alpha-only fields are validated leniently.
package validation
