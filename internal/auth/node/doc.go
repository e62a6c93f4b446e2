// Package node is the Node authorizer: it limits what a node's credentials (user system:node:<name> in group
// system:nodes) can reach to what the node needs for the pods bound to it, as upstream's Node authorization
// mode. It sits before RBAC in the authorizer chain; what it does not allow falls through to RBAC, where
// upstream binds nothing to nodes.
//
//	request from system:node:n1
//	  secrets, configmaps         get/list/watch by name, only when a pod bound to n1 refers to them
//	  persistentvolumeclaims      get by name (and status updates), same condition
//	  persistentvolumes           get, when bound to such a claim
//	  serviceaccounts/token       create, for a service account a pod on n1 runs as
//	  nodes                       read its own Node only; create/update/patch (NodeRestriction admission
//	                              then limits writes to its own Node)
//	  leases in kube-node-lease   its own lease only (create checked by admission)
//	  csinodes                    its own only
//	  anything else               the system:node role's rules (pods, events, services, CSRs, ...)
//
// The pod→object relationships come from a pod informer indexed by "node/kind/namespace/name" and a claim
// informer indexed by volume name (Graph). The decision logic (Authorizer) has no I/O and is tested with a
// fake Graph. The package does not admit writes: see admission.NodeRestriction for what a node may change.
package node
