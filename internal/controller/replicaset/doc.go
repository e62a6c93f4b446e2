// Package replicaset is the ReplicaSet controller, with upstream's semantics: it keeps spec.replicas active
// pods made from the template, adopts orphan pods its selector matches and releases pods it no longer
// matches (ownerReferences), deletes surplus pods in upstream's order (unscheduled, pending, not ready,
// recently ready, restarting, newest first), creates in slow-start batches, and reports replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas (minReadySeconds), observedGeneration and a
// ReplicaFailure condition. Expectations keep a sync from acting twice before the informer has seen its
// own creates and deletes.
//
//	ReplicaSet/Pod informers ─▶ queue (rs key) ─▶ sync: claim pods ─▶ create/delete ─▶ status
package replicaset
