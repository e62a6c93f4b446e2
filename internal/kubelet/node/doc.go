// Package node registers the agent's Node through the API and keeps it alive: capacity and allocatable from
// the machine, addresses, nodeInfo and conditions on the Node, and a heartbeat Lease in kube-node-lease renewed
// every 10 s, as upstream's kubelet does. Status is rewritten when it changes, and at least every 5 minutes.
//
// It is the first part of the node agent (issue C); the pod workers come next.
package node
