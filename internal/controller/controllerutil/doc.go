// Package controllerutil holds the pieces the workload controllers share: pod creation/deletion
// expectations, the work-queue worker loop and start-up, pod readiness and availability helpers,
// controller-ref lookup and adoption/release (claiming), slow-start batching, and ControllerRevision
// history helpers. Each is small and parameterised where the controllers' semantics differ.
package controllerutil
