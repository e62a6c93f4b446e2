package auth

import "strings"

// Node identities, as upstream's: a node's credentials name the user system:node:<nodeName> in group system:nodes.
const (
	GroupNodes     = "system:nodes"
	NodeUserPrefix = "system:node:"
)

// NodeIdentity returns the node a user speaks for. isNode is false for users that are not nodes; a node user
// whose name after the prefix is empty is a node with an unknown name (nodeName "", isNode true).
func NodeIdentity(u *User) (nodeName string, isNode bool) {
	if u == nil || !strings.HasPrefix(u.Name, NodeUserPrefix) || !containsGroup(u.Groups, GroupNodes) {
		return "", false
	}
	return strings.TrimPrefix(u.Name, NodeUserPrefix), true
}
