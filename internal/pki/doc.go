// Package pki owns the cluster's certificate authority and the certificates and kubeconfigs made from it.
//
// Everything lives under one directory (the server's <data-dir>/tls): the CA is created once and reused on every
// start, so kubeconfigs handed out earlier keep working. Serving certificates are re-issued when the wanted SANs
// change (a new node IP, say). This package knows nothing about HTTP or the API; it only writes PEM files.
package pki
