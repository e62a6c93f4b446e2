// Package garbagecollector is the garbage collector, with upstream kube-controller-manager's semantics: it
// deletes objects whose owners (metadata.ownerReferences) are gone, and carries out the propagation policy the
// API server records on a deleted owner: the foregroundDeletion finalizer (delete the dependents first, keep the
// owner until those with blockOwnerDeletion are gone) and the orphan finalizer (drop the dependents' references
// to the owner, then let it go). Background deletion is the default: the owner goes at once and its dependents
// follow once the collector sees them dangling.
//
// Metadata informers over every served resource that can be listed, watched and deleted (events aside) feed a
// graph keyed by UID: each node knows its owners and dependents; owners referenced but not seen are virtual
// nodes. Graph changes enqueue the UIDs that may need work; workers decide from live reads (GET of the object
// and of each owner), never from the graph alone, and act through the metadata client.
//
//	metadata informers ─▶ graph (uid ─▶ owners, dependents; virtual owners) ─▶ queue of UIDs
//	                                                                             │
//	    ┌────────────────────────────────────────────────────────────────────────┘
//	    ▼
//	worker: virtual node ─▶ GET owner per dependent ─▶ absent? enqueue its dependents
//	        deleting owner, orphan      ─▶ patch ownerReferences off dependents ─▶ drop finalizer
//	        deleting owner, foreground  ─▶ enqueue dependents; none blocking left? ─▶ drop finalizer
//	        dependent ─▶ classify owners (GET): solid / dangling / waiting (owner in foreground deletion)
//	                  ─▶ some solid: patch away dangling+waiting references
//	                  ─▶ none solid: DELETE (Foreground if it has dependents and an owner waits, else Background)
package garbagecollector
