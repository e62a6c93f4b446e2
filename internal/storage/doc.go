// Package storage owns how API objects live in etcd: the typed store (create, get, guaranteed update, delete,
// paged list straight from etcd), the watch cache (one etcd watch per resource feeding an in-memory copy that
// serves LIST and WATCH), and the embedded etcd launcher.
//
//	apiserver ──Create/Update/Delete──▶ Store ──txn──▶ etcd
//	                                                   │ watch (prevKV, progress notify)
//	apiserver ◀──List/Watch── Cacher ◀──events─────────┘
//
// Keys are /registry/<resource>/<namespace>/<name> (cluster-scoped: /registry/<resource>/<name>); values are the
// object's JSON with apiVersion and kind; resourceVersion is the etcd mod revision and is never stored in the value.
// This package returns k8s.io/apimachinery api errors (NotFound, AlreadyExists, Conflict, Gone) so the HTTP layer
// can send them as they are. It knows nothing of HTTP, validation or admission.
package storage
