// Package certificates holds the controllers of CertificateSigningRequests (certificates.k8s.io/v1), as
// upstream's csrsigning, csrapproving and csrcleaner; all three act as kube-system/certificate-controller.
//
//	CSR informer ─▶ approver: kube-apiserver-client-kubelet node client requests whose requester may create
//	             │  certificatesigningrequests/selfnodeclient or /nodeclient (SubjectAccessReview) ─▶ Approved
//	             ├▶ signer: Approved, not Failed, no certificate, a kubernetes.io signer it serves ─▶ the
//	             │  signer's restrictions ─fail─▶ Failed (SignerValidationFailure) ─ok─▶ status.certificate
//	             └▶ cleaner (hourly): issued or denied or failed for 1 h, pending for 24 h, or expired ─▶ DELETE
//
// The signers: kubernetes.io/kube-apiserver-client (any subject, client auth usages),
// kubernetes.io/kube-apiserver-client-kubelet (O=system:nodes, CN=system:node:<name>, no SANs, client usages)
// and kubernetes.io/kubelet-serving (O=system:nodes, CN=system:node:<name>, DNS or IP SANs only, server
// usages). Certificates last spec.expirationSeconds (at least 10 minutes) or the signing duration, whichever
// is shorter, and never outlive the CA.
package certificates
