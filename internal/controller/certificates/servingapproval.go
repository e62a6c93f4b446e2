package certificates

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Serving certificates of nodes (kubernetes.io/kubelet-serving) are never auto-approved upstream. skiff
// approves them under a rule of its own (k3s and kubelet-csr-approver do similar), so joined nodes get a
// serving certificate the API server can verify without an administrator:
//
//   - the requester is system:node:<n> in group system:nodes, and the CSR's CN is system:node:<n>,
//     O exactly system:nodes, usages those of a kubelet serving certificate;
//   - every DNS SAN is <n> or one of the Node's Hostname/InternalDNS/ExternalDNS addresses;
//   - every IP SAN is one of the Node's InternalIP/ExternalIP addresses, or, while the Node has no IP address
//     yet, any IP (the node's first request may come before it registered).
//
// A request from a node whose Node object does not exist yet is retried (with back-off) until it does.
// Anything else is left pending for an administrator (kubectl certificate approve).
const servingApprovalMessage = "Auto approving kubelet serving certificate: skiff's rule (requester is the node, names and addresses are the node's)."

// errNodeNotRegistered makes the approver retry a serving request until the node registers.
var errNodeNotRegistered = errors.New("node not registered yet")

// servingApproval decides a kubelet-serving request (pure). node is the requester's Node, nil if none.
func servingApproval(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest, node *corev1.Node) (bool, string) {
	if checkKubeletServing(req, csr.Spec.Usages) != nil {
		return false, "not shaped as a kubelet serving certificate"
	}
	name, ok := strings.CutPrefix(csr.Spec.Username, "system:node:")
	if !ok || name == "" || !slices.Contains(csr.Spec.Groups, "system:nodes") {
		return false, "requester is not a node"
	}
	if req.Subject.CommonName != csr.Spec.Username {
		return false, "common name is not the requester's"
	}
	dnsOK := map[string]bool{name: true}
	var ips []net.IP
	if node != nil {
		for _, a := range node.Status.Addresses {
			switch a.Type {
			case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
				dnsOK[a.Address] = true
			case corev1.NodeInternalIP, corev1.NodeExternalIP:
				if ip := net.ParseIP(a.Address); ip != nil {
					ips = append(ips, ip)
				}
			}
		}
	}
	for _, d := range req.DNSNames {
		if !dnsOK[d] {
			return false, fmt.Sprintf("DNS name %q is not one of the node's", d)
		}
	}
	if len(ips) == 0 {
		return true, ""
	}
	for _, ip := range req.IPAddresses {
		if !slices.ContainsFunc(ips, ip.Equal) {
			return false, fmt.Sprintf("IP address %s is not one of the node's", ip)
		}
	}
	return true, ""
}

// decideServing applies servingApproval with the requester's Node.
func (a *Approver) decideServing(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (string, error) {
	name, ok := strings.CutPrefix(csr.Spec.Username, "system:node:")
	if !ok || name == "" {
		return "", nil
	}
	getNode := a.Node
	if getNode == nil {
		getNode = func(ctx context.Context, name string) (*corev1.Node, error) {
			return a.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		}
	}
	node, err := getNode(ctx, name)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("csr %q: %w: %s", csr.Name, errNodeNotRegistered, name)
	}
	if err != nil {
		return "", err
	}
	if ok, why := servingApproval(csr, req, node); !ok {
		return "", fmt.Errorf("csr %q: not auto-approved as a node serving certificate: %s", csr.Name, why)
	}
	return servingApprovalMessage, nil
}
