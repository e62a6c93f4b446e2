// Package defaults fills in the values the Kubernetes API server defaults on
// the versioned (k8s.io/api) built-in objects before they are validated and
// stored.
//
// It owns:
//   - the per-version defaulting functions upstream registers in its scheme
//     (pkg/apis/<group>/v1/defaults.go plus the declarative +default tags);
//   - a few normalisations upstream performs elsewhere but that users see in
//     every object the server returns: registry strategies (Service
//     clusterIP/clusterIPs sync and IP families, Namespace finalizers and
//     name label) and the internal<->v1 round trip (Pod serviceAccount
//     mirroring);
//   - JobSelector, the selector generation a Job's create strategy does,
//     exported separately because it needs the object's UID.
//
// It does not own allocation (cluster IPs, node ports), admission plugins
// (DefaultTolerationSeconds is in package admission; service account token
// volumes, default storage class, LimitRanger) or validation; see package
// validation for the latter.
//
// Every function here is idempotent: defaulting an already defaulted object
// changes nothing, so the server may run it on both create and update.
package defaults
