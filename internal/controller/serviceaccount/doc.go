// Package serviceaccount holds two controllers of upstream's kube-controller-manager that give every namespace
// what its pods expect to find there. The serviceaccount controller (Start) keeps a "default" ServiceAccount in
// every active namespace, creating it again when it is deleted. The root-ca-cert-publisher
// (StartRootCAPublisher) keeps the ConfigMap kube-root-ca.crt in every namespace: ca.crt is the cluster CA
// bundle (to verify the API server from inside a pod), with upstream's kubernetes.io/description annotation;
// edits are put back and a deleted one is created again.
//
//	namespace informer (add/update) ─┐
//	ServiceAccount deleted ──────────┼─▶ queue of namespaces ─▶ create what is missing / restore what changed
//	kube-root-ca.crt changed/deleted ┘
package serviceaccount
