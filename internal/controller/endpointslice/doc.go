// Package endpointslice holds the EndpointSlice controller and the (legacy) Endpoints controller, with
// upstream's semantics, for Services with a selector (Services without one, and ExternalName Services,
// are left alone: their slices and Endpoints are the user's).
//
// The EndpointSlice controller keeps discovery.k8s.io/v1 EndpointSlices labelled kubernetes.io/service-name
// and endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io, owned by the Service (the
// garbage collector removes them with it), named <service>-<random>. Each slice holds at most 100 endpoints
// of one address type (IPv4/IPv6, from the Service's IP families, or the pod IP's family while the Service
// has none) and one port set: a Service's ports resolved per pod, so pods whose named targetPort resolves to
// different numbers land in different slices. An endpoint is a pod with an IP that has not finished, with
// conditions ready (ready and not terminating, or always with publishNotReadyAddresses), serving (ready)
// and terminating (being deleted), nodeName, zone (the node's topology.kubernetes.io/zone), targetRef and
// hostname (spec.hostname when spec.subdomain is the Service). Syncs keep churn low: endpoints stay in
// their slice, unchanged slices are not written, new endpoints fill slices written anyway, slices left
// empty are reused or deleted, and a Service without endpoints keeps one empty placeholder slice. A
// tracker of the controller's own writes holds a sync back until the informer has seen them.
//
// The Endpoints controller keeps one core/v1 Endpoints per Service (same name, no owner reference: it is
// deleted with its Service by the controller), subsets grouping addresses by resolved ports, ready pods in
// addresses and the others in notReadyAddresses (terminating pods left out unless not-ready addresses are
// published), at most 1000 addresses (then endpoints.kubernetes.io/over-capacity: truncated), labelled
// endpointslice.kubernetes.io/skip-mirror.
//
// Left out: the EndpointSlice mirroring controller (slices for manually made Endpoints), topology hints,
// the endpoints.kubernetes.io/last-change-trigger-time annotation, and upstream's proportional spread of
// the 1000-address truncation across subsets (here ready addresses are kept first, in address order). When
// a Service goes, only Endpoints carrying the skip-mirror label this controller sets are deleted (upstream
// deletes any Endpoints of that name, hand-made ones too).
//
//	Service/Pod/Node/EndpointSlice informers ─▶ queue (service key) ─▶ sync: desired groups ─▶ reconcile ─▶ create/update/delete
//	Service/Pod/Endpoints informers ─▶ queue (service key) ─▶ sync: subsets ─▶ create/update/delete Endpoints
package endpointslice
