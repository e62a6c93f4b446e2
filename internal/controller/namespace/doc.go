// Package namespace is the namespace controller: when a namespace is deleted it deletes everything in it,
// through the API, and then removes the "kubernetes" finalizer so the namespace itself can go.
//
//	namespace informer ─▶ queue ─▶ sync: deletecollection per namespaced resource
//	                                   ─▶ all empty? ─▶ PUT namespaces/<ns>/finalize ─▶ DELETE namespace
package namespace
