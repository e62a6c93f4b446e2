package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/apiserver/registry"
)

// objectRef names one object the collector watches.
type objectRef struct {
	res       *registry.Resource
	namespace string
	name      string
	uid       types.UID
}

func (r objectRef) gvr() schema.GroupVersionResource { return r.res.GroupVersionResource }

func (r objectRef) String() string {
	if r.namespace == "" {
		return r.res.Resource + "/" + r.name
	}
	return r.res.Resource + "/" + r.namespace + "/" + r.name
}

// node is one object in the graph. A virtual node is an owner referenced by some dependent but not (or no
// longer) observed through an informer; it lives as long as it has dependents.
type node struct {
	ref      objectRef
	observed bool
	// owners are the object's ownerReferences as last observed.
	owners []metav1.OwnerReference
	// deleting: deletionTimestamp is set; foreground/orphan: the propagation finalizers are present.
	deleting, foreground, orphan bool
	dependents                   map[types.UID]*node
}

// deletingDependents is an owner in foreground deletion: its dependents go first.
func (n *node) deletingDependents() bool { return n.observed && n.deleting && n.foreground }

// ownerRef returns the node's reference to the owner with the given UID.
func (n *node) ownerRef(owner types.UID) (metav1.OwnerReference, bool) {
	for _, r := range n.owners {
		if r.UID == owner {
			return r, true
		}
	}
	return metav1.OwnerReference{}, false
}

// graph is the owner/dependent graph keyed by UID. Its methods return the UIDs that need a worker's look.
type graph struct {
	mu    sync.Mutex
	nodes map[types.UID]*node
}

func newGraph() *graph { return &graph{nodes: map[types.UID]*node{}} }

// observe records an added or updated object.
func (g *graph) observe(res *registry.Resource, m *metav1.ObjectMeta) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	var enqueue []types.UID
	n := g.nodes[m.UID]
	if n == nil {
		n = &node{dependents: map[types.UID]*node{}}
		g.nodes[m.UID] = n
	}
	n.ref = objectRef{res: res, namespace: m.Namespace, name: m.Name, uid: m.UID}
	if !n.observed {
		// A virtual owner turning up: dependents whose reference does not match it are suspect.
		for _, d := range n.dependents {
			if r, _ := d.ownerRef(m.UID); !refMatches(res, m.Namespace, m.Name, r, d.ref.namespace) {
				enqueue = append(enqueue, d.ref.uid)
			}
		}
	}
	n.observed = true
	n.deleting = m.DeletionTimestamp != nil
	n.foreground = slices.Contains(m.Finalizers, metav1.FinalizerDeleteDependents)
	n.orphan = slices.Contains(m.Finalizers, metav1.FinalizerOrphanDependents)
	old := n.owners
	n.owners = slices.Clone(m.OwnerReferences)

	// Owners no longer referenced, or referenced differently (blockOwnerDeletion flipped): an owner waiting for
	// its dependents may now be free to go.
	for _, o := range old {
		cur, still := n.ownerRef(o.UID)
		if still && refEqual(o, cur) {
			continue
		}
		owner := g.nodes[o.UID]
		if owner == nil {
			continue
		}
		if !still {
			delete(owner.dependents, n.ref.uid)
			g.dropIfUnused(owner)
		}
		if owner.deletingDependents() {
			enqueue = append(enqueue, owner.ref.uid)
		}
	}
	// New owners: unseen ones become virtual nodes to verify; a seen one in foreground deletion wants this
	// dependent gone; a seen one that does not match the reference (another namespace, kind or name) makes the
	// reference suspect, so the dependent is checked against the API.
	for _, o := range n.owners {
		if slices.ContainsFunc(old, func(r metav1.OwnerReference) bool { return r.UID == o.UID }) {
			continue
		}
		owner := g.nodes[o.UID]
		if owner == nil {
			owner = &node{ref: objectRef{uid: o.UID}, dependents: map[types.UID]*node{}}
			g.nodes[o.UID] = owner
		}
		owner.dependents[n.ref.uid] = n
		switch {
		case !owner.observed:
			enqueue = append(enqueue, owner.ref.uid)
		case owner.deletingDependents(), !owner.matches(o, n.ref.namespace):
			enqueue = append(enqueue, n.ref.uid)
		}
	}
	if n.deleting && (n.foreground || n.orphan) {
		enqueue = append(enqueue, n.ref.uid)
	}
	return enqueue
}

// forget records a deleted object. If it still has dependents it stays as a virtual node, and they are
// enqueued: their owner is gone.
func (g *graph) forget(uid types.UID) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil || !n.observed {
		return nil
	}
	var enqueue []types.UID
	for _, o := range n.owners {
		owner := g.nodes[o.UID]
		if owner == nil {
			continue
		}
		delete(owner.dependents, uid)
		if owner.deletingDependents() {
			enqueue = append(enqueue, owner.ref.uid)
		}
		g.dropIfUnused(owner)
	}
	n.observed, n.owners, n.deleting, n.foreground, n.orphan = false, nil, false, false, false
	for d := range n.dependents {
		enqueue = append(enqueue, d)
	}
	g.dropIfUnused(n)
	return enqueue
}

// dropIfUnused removes a virtual node nobody references any more. Callers hold the lock.
func (g *graph) dropIfUnused(n *node) {
	if !n.observed && len(n.dependents) == 0 {
		delete(g.nodes, n.ref.uid)
	}
}

// matches says whether an observed owner is what the reference (from a dependent in namespace ns) names: a
// namespaced owner must be in the dependent's namespace, and group, kind and name must agree.
func (n *node) matches(ref metav1.OwnerReference, ns string) bool {
	return refMatches(n.ref.res, n.ref.namespace, n.ref.name, ref, ns)
}

func refMatches(res *registry.Resource, ownerNS, ownerName string, ref metav1.OwnerReference, ns string) bool {
	if res.Namespaced && ownerNS != ns {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == res.Group && ref.Kind == res.Kind && ref.Name == ownerName
}

func refEqual(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		boolOf(a.Controller) == boolOf(b.Controller) && boolOf(a.BlockOwnerDeletion) == boolOf(b.BlockOwnerDeletion)
}

func boolOf(p *bool) bool { return p != nil && *p }

// dependentView is a copy of what a worker needs to know about a dependent.
type dependentView struct {
	ref objectRef
	// owner is the dependent's reference to the node being looked at.
	owner metav1.OwnerReference
	// deleting and deletingDependents are the dependent's own deletion state.
	deleting, deletingDependents bool
}

// nodeView is a copy of a node, taken under the lock, for a worker.
type nodeView struct {
	ref        objectRef
	observed   bool
	dependents []dependentView
}

// view copies the node with the given UID; ok is false when the graph has none.
func (g *graph) view(uid types.UID) (v nodeView, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil {
		return nodeView{}, false
	}
	v = nodeView{ref: n.ref, observed: n.observed}
	for _, d := range n.dependents {
		r, _ := d.ownerRef(uid)
		v.dependents = append(v.dependents, dependentView{ref: d.ref, owner: r, deleting: d.deleting, deletingDependents: d.deletingDependents()})
	}
	return v, true
}

// observedElsewhere reports whether the UID belongs to an observed namespaced object outside ns (a reference
// across namespaces, which upstream reports as OwnerRefInvalidNamespace).
func (g *graph) observedElsewhere(uid types.UID, ns string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	return n != nil && n.observed && n.ref.res.Namespaced && n.ref.namespace != ns
}
