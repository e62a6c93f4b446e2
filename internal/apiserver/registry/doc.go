// Package registry is the table of served resources: for each kind its group/version/resource, scope, names,
// subresources and the per-kind rules the generic REST handlers apply (status handling, field selectors).
//
// Adding a built-in type is one entry in resources.go; its defaults live in internal/apiserver/defaults, its
// validation in internal/apiserver/validation and its table columns in internal/apiserver/printers.
package registry
