// Package join lets a machine join a skiff cluster as a node, as kubeadm join and the kubelet's TLS bootstrap
// do upstream:
//
//	skiff token create ─▶ Secret kube-system/bootstrap-token-<id> (token.go)
//	skiff agent --server URL --token <id>.<secret> --discovery-token-ca-cert-hash sha256:<hex>
//	  discovery (discovery.go): GET kube-public/cluster-info anonymously over TLS trusting nothing yet
//	    ─▶ JWS jws-kubeconfig-<id> valid for the token secret? ─▶ CA's public key hash pinned? ─▶ trust the CA
//	  TLS bootstrap (bootstrap.go): as system:bootstrap:<id>, a kubernetes.io/kube-apiserver-client-kubelet CSR
//	    (CN system:node:<name>, O system:nodes) ─▶ watch until csrapproving approved it and csrsigning issued it
//	    ─▶ <data-dir>/agent/pki/kubelet-client-current.pem + <data-dir>/agent/kubelet.kubeconfig
//	  rotation (rotation.go): at 70–90% of a certificate's life a new CSR with the node's own credentials
//	    (client: selfnodeclient; serving: kubernetes.io/kubelet-serving, skiff's approval rule) ─▶ switch in place
//
// It talks to the cluster only through the API with client-go; it never reads the control plane's files.
package join
