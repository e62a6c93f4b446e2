// Package serviceaccount holds two controllers of upstream's kube-controller-manager that give every namespace
// what its pods expect to find there. The serviceaccount controller (Start) keeps a "default" ServiceAccount in
// every active namespace, creating it again when it is deleted. The root-ca-cert-publisher
// (StartRootCAPublisher) keeps the ConfigMap kube-root-ca.crt in every namespace: ca.crt is the cluster CA
// bundle (to verify the API server from inside a pod), with upstream's kubernetes.io/description annotation;
// edits are put back and a deleted one is created again. The tokens controller (StartTokens, upstream's
// serviceaccount-token) fills Secrets of type kubernetes.io/service-account-token with a legacy token, ca.crt
// and namespace, and deletes those whose ServiceAccount is gone.
//
//	namespace informer (add/update) ─┐
//	ServiceAccount deleted ──────────┼─▶ queue of namespaces ─▶ create what is missing / restore what changed
//	kube-root-ca.crt changed/deleted ┘
package serviceaccount
