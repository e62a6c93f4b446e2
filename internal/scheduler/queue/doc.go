// Package queue holds pods waiting to be scheduled, in three parts as upstream:
//
//	activeQ        pods to try now, highest priority first, then oldest
//	backoffQ       pods that failed recently, each waiting out an exponential backoff (1s doubling to 10s)
//	unschedulable  pods no node could take; they move back when a cluster event that could help happens
//	               (a node added or changed, a pod deleted, ...), or after 5 minutes at the latest
//
// Pop blocks until a pod is active. Nothing here polls the cluster: only backoff expiry runs on a timer.
package queue
