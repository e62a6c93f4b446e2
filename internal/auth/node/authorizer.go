package node

import (
	"context"
	"fmt"
	"sync/atomic"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/selection"

	"skiff/internal/auth"
	"skiff/internal/auth/rbac"
)

// NamespaceNodeLease holds the nodes' heartbeat leases.
const NamespaceNodeLease = "kube-node-lease"

// Authorizer is the Node authorizer. It has no opinion about users that are not nodes and never denies: what
// it does not allow is left to the rest of the chain, with the reason it gives.
type Authorizer struct {
	graph atomic.Pointer[Graph]
	rules []rbacv1.PolicyRule
}

var _ auth.Authorizer = (*Authorizer)(nil)

// NewAuthorizer returns a Node authorizer applying the system:node role's rules to what it does not restrict
// further. Until SetGraph is called no pod relationship is known.
func NewAuthorizer() *Authorizer { return &Authorizer{rules: rbac.NodeRules()} }

// SetGraph makes the authorizer answer relationship questions from g.
func (z *Authorizer) SetGraph(g Graph) { z.graph.Store(&g) }

// Authorize implements auth.Authorizer.
func (z *Authorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	nodeName, isNode := auth.NodeIdentity(a.User)
	if !isNode {
		return auth.DecisionNoOpinion, "", nil
	}
	if nodeName == "" {
		return auth.DecisionNoOpinion, fmt.Sprintf("unknown node for user %q", a.User.Name), nil
	}
	if a.ResourceRequest {
		switch a.APIGroup + "/" + a.Resource {
		case "/secrets":
			return z.readNamespaced(nodeName, Secret, a)
		case "/configmaps":
			return z.readNamespaced(nodeName, ConfigMap, a)
		case "/persistentvolumeclaims":
			if a.Subresource == "status" {
				return z.statusUpdate(nodeName, PVC, a)
			}
			return z.get(nodeName, PVC, a)
		case "/persistentvolumes":
			return z.get(nodeName, PV, a)
		case "/serviceaccounts":
			return z.createToken(nodeName, a)
		case "/nodes":
			return nodeAccess(nodeName, a)
		case "/pods":
			return z.pod(nodeName, a)
		case "coordination.k8s.io/leases":
			return lease(nodeName, a)
		case "storage.k8s.io/csinodes":
			return csiNode(nodeName, a)
		}
	}
	for i := range z.rules {
		if rbac.RuleAllows(a, &z.rules[i]) {
			return auth.DecisionAllow, "", nil
		}
	}
	return auth.DecisionNoOpinion, "", nil
}

func (z *Authorizer) readNamespaced(nodeName string, kind Kind, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "list", "watch":
	default:
		return auth.DecisionNoOpinion, "can only read resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.DecisionNoOpinion, "cannot read subresource", nil
	}
	if a.Namespace == "" {
		return auth.DecisionNoOpinion, "can only read namespaced object of this type", nil
	}
	return z.related(nodeName, kind, a)
}

func (z *Authorizer) get(nodeName string, kind Kind, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb != "get" {
		return auth.DecisionNoOpinion, "can only get individual resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.DecisionNoOpinion, "cannot get subresource", nil
	}
	return z.related(nodeName, kind, a)
}

func (z *Authorizer) statusUpdate(nodeName string, kind Kind, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "update", "patch":
	default:
		return auth.DecisionNoOpinion, "can only get/update/patch this type", nil
	}
	return z.related(nodeName, kind, a)
}

func (z *Authorizer) createToken(nodeName string, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb != "create" || a.Name == "" {
		return auth.DecisionNoOpinion, "can only create tokens for individual service accounts", nil
	}
	if a.Subresource != "token" {
		return auth.DecisionNoOpinion, "can only create token subresource of serviceaccount", nil
	}
	return z.related(nodeName, ServiceAccount, a)
}

// related allows a request for one named object that a pod bound to the node refers to.
func (z *Authorizer) related(nodeName string, kind Kind, a auth.Attributes) (auth.Decision, string, error) {
	if a.Name == "" {
		return auth.DecisionNoOpinion, "No Object name found", nil
	}
	if g := z.graph.Load(); g != nil && (*g).Related(nodeName, kind, a.Namespace, a.Name) {
		return auth.DecisionAllow, "", nil
	}
	return auth.DecisionNoOpinion, fmt.Sprintf("no relationship found between node '%s' and this object", nodeName), nil
}

// pod is upstream's AuthorizeNodeWithSelectors rule for pods (on by default since 1.32, GA in 1.34): a node
// gets the pods related to it, lists and watches only its own (field selector spec.nodeName=<node>, or a
// single related pod by name), creates and deletes mirror pods, updates pod status and evicts (NodeRestriction
// admission limits those writes to its own pods).
func (z *Authorizer) pod(nodeName string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Subresource {
	case "":
		switch a.Verb {
		case "get":
			return z.get(nodeName, Pod, a)
		case "list", "watch":
			for _, r := range a.FieldSelector {
				if r.Field == "spec.nodeName" && (r.Operator == selection.Equals || r.Operator == selection.DoubleEquals) && r.Value == nodeName {
					return auth.DecisionAllow, "", nil
				}
			}
			if a.Name != "" {
				return z.related(nodeName, Pod, a)
			}
			return auth.DecisionNoOpinion, "can only list/watch pods with spec.nodeName field selector", nil
		case "create", "delete":
			return auth.DecisionAllow, "", nil
		}
	case "status":
		switch a.Verb {
		case "update", "patch":
			return auth.DecisionAllow, "", nil
		}
	case "eviction":
		if a.Verb == "create" {
			return auth.DecisionAllow, "", nil
		}
	}
	return auth.DecisionNoOpinion, "", nil
}

// nodeAccess lets a node read only its own Node (by name, so it can look before registering) and write Node
// objects, which NodeRestriction admission limits to its own.
func nodeAccess(nodeName string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Subresource {
	case "":
	case "status":
		// Its own status only, which NodeRestriction admission checks.
		if a.Verb == "update" || a.Verb == "patch" {
			return auth.DecisionAllow, "", nil
		}
		return auth.DecisionNoOpinion, "", nil
	default:
		return auth.DecisionNoOpinion, "", nil
	}
	switch a.Verb {
	case "create", "update", "patch":
		return auth.DecisionAllow, "", nil
	case "get", "list", "watch":
		switch a.Name {
		case nodeName:
			return auth.DecisionAllow, "", nil
		case "":
			return auth.DecisionNoOpinion, fmt.Sprintf("node '%s' cannot read all nodes, only its own Node object", nodeName), nil
		default:
			return auth.DecisionNoOpinion, fmt.Sprintf("node '%s' cannot read '%s', only its own Node object", nodeName, a.Name), nil
		}
	}
	return auth.DecisionNoOpinion, "", nil
}

func lease(nodeName string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return auth.DecisionNoOpinion, "can only get, create, update, patch, or delete a node lease", nil
	}
	if a.Namespace != NamespaceNodeLease {
		return auth.DecisionNoOpinion, fmt.Sprintf("can only access leases in the %q system namespace", NamespaceNodeLease), nil
	}
	// A create names its lease only in the body: NodeRestriction admission checks it.
	if a.Verb != "create" && a.Name != nodeName {
		return auth.DecisionNoOpinion, "can only access node lease with the same name as the requesting node", nil
	}
	return auth.DecisionAllow, "", nil
}

func csiNode(nodeName string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return auth.DecisionNoOpinion, "can only get, create, update, patch, or delete a CSINode", nil
	}
	if a.Subresource != "" {
		return auth.DecisionNoOpinion, "cannot authorize CSINode subresources", nil
	}
	if a.Verb != "create" && a.Name != nodeName {
		return auth.DecisionNoOpinion, "can only access CSINode with the same name as the requesting node", nil
	}
	return auth.DecisionAllow, "", nil
}
