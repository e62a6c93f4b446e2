// Package defaults fills in the values the Kubernetes API server defaults on
// the versioned (k8s.io/api) built-in objects before they are validated and
// stored.
//
// It owns:
//   - the per-version defaulting functions upstream registers in its scheme
//     (pkg/apis/<group>/v1/defaults.go plus the declarative +default tags);
//   - a few normalisations upstream performs in registry strategies or in the
//     internal<->v1 round trip and that users can observe in what the server
//     returns (Service clusterIP/clusterIPs sync, Namespace finalizers and
//     name label, Pod serviceAccount mirroring).
//
// It does not own allocation (cluster IPs, node ports), admission plugins
// (service account token volumes, default storage class, LimitRanger) or
// validation; see package validation for the latter.
//
// Every function here is idempotent: defaulting an already defaulted object
// changes nothing, so the server may run it on both create and update.
package defaults
