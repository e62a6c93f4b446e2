// Package printers renders objects of the built-in Kubernetes kinds as a
// metav1.Table, the server-side printing format that kubectl asks for with
// "Accept: application/json;as=Table;g=meta.k8s.io;v=v1".
//
// kubectl does not know how to lay out a Pod or a Deployment itself: since
// server-side printing became the default it renders whatever columns and
// cells the apiserver returns. To make "kubectl get", "kubectl get -o wide"
// and "kubectl get -w" look as they do against a real cluster, this package
// reproduces the column definitions and the cell formatting of the upstream
// apiserver for every kind it knows, and falls back to upstream's generic
// "Name / Created At" table for everything else (Roles, ClusterRoles,
// LimitRanges and custom resources get that generic table upstream too).
//
// Like upstream, every row always carries the cells for all columns,
// including the priority-1 ("wide") ones: the server does not know whether
// the client asked for -o wide, kubectl simply hides columns whose Priority
// is above zero unless it did.
//
// Time is injected (the now argument) so AGE-like cells are deterministic in
// tests; durations use apimachinery's duration.HumanDuration, the same
// short format ("5m", "3h12m", "2d") upstream prints.
//
// The package works on the versioned k8s.io/api types directly. Upstream
// prints the internal (hub) representation after defaulting; where a
// versioned field is a pointer that defaulting always fills in (replicas,
// service type, port protocol), the printers apply the same default so an
// object that skipped defaulting still prints as it would on a real cluster.
package printers
