// Package statefulset is the StatefulSet controller, with upstream's semantics: pods named <set>-<ordinal>
// (from spec.ordinals.start) with hostname = pod name, subdomain = spec.serviceName and the labels
// statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index and controller-revision-hash; one
// ControllerRevision per template (named <set>-<hash>, holding the strategic merge patch that restores the
// template, numbered; a rollback renumbers the old revision) with status.currentRevision/updateRevision and
// revisionHistoryLimit; OrderedReady (create in ordinal order, each Running, Ready and available for
// minReadySeconds before the next; scale down from the highest ordinal, one at a time) and Parallel pod
// management; RollingUpdate (highest ordinal first, one at a time waiting for Ready, partition, maxUnavailable)
// and OnDelete; failed pods deleted and recreated under the same name; PVCs <claim>-<set>-<ordinal> created
// from volumeClaimTemplates and mounted through the pod's volume of the claim's name.
//
//	StatefulSet/Pod/ControllerRevision informers ─▶ queue ─▶ sync: claim pods and revisions ─▶ current and
//	   update revision ─▶ plan (pure: create/delete/relabel, in upstream's order) ─▶ execute ─▶ status ─▶ history
//
// Not done: persistentVolumeClaimRetentionPolicy (claims are always retained), and claims stay Pending until
// skiff has storage, so pods of sets with volumeClaimTemplates do not start yet.
package statefulset
