// Package server assembles `skiff server`: certificates, etcd (embedded or external), the API server on HTTPS,
// the bootstrap objects, and the in-process controllers that run against the API like any other client.
//
//	Run ─▶ pki (CA, serving cert, admin kubeconfig) ─▶ etcd ─▶ apiserver.New ─▶ HTTPS listener
//	    ─▶ wait for watch caches ─▶ bootstrap namespaces (through the API) ─▶ controllers ─▶ "ready" log line
package server
