package certificates

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestServingApproval(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	servingUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	mk := func(cn string, org []string, dns []string, ips ...string) *x509.CertificateRequest {
		tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: org}, DNSNames: dns}
		for _, ip := range ips {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := x509.ParseCertificateRequest(der)
		return req
	}
	csr := func(user string, groups []string, usages []certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: certificatesv1.KubeletServingSignerName, Username: user, Groups: groups, Usages: usages}}
	}
	nodeGroups := []string{"system:nodes", "system:authenticated"}
	n1 := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "host1"}}}}
	noAddrs := &corev1.Node{}
	for _, tc := range []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		req  *x509.CertificateRequest
		node *corev1.Node
		want bool
	}{
		{"own names and IPs", csr("system:node:n1", nodeGroups, servingUsages), mk("system:node:n1", []string{"system:nodes"}, []string{"n1", "host1"}, "10.0.0.5"), n1, true},
		{"node without addresses yet: CSR IPs", csr("system:node:n1", nodeGroups, servingUsages), mk("system:node:n1", []string{"system:nodes"}, []string{"n1"}, "10.9.9.9"), noAddrs, true},
		{"foreign IP", csr("system:node:n1", nodeGroups, servingUsages), mk("system:node:n1", []string{"system:nodes"}, []string{"n1"}, "10.0.0.6"), n1, false},
		{"foreign DNS name", csr("system:node:n1", nodeGroups, servingUsages), mk("system:node:n1", []string{"system:nodes"}, []string{"kubernetes.default.svc"}, "10.0.0.5"), n1, false},
		{"another node's CN", csr("system:node:n1", nodeGroups, servingUsages), mk("system:node:n2", []string{"system:nodes"}, []string{"n2"}), n1, false},
		{"requester not a node", csr("alice", []string{"system:authenticated"}, servingUsages), mk("system:node:n1", []string{"system:nodes"}, []string{"n1"}), n1, false},
		{"node user outside system:nodes", csr("system:node:n1", []string{"system:authenticated"}, servingUsages), mk("system:node:n1", []string{"system:nodes"}, []string{"n1"}), n1, false},
		{"wrong organization", csr("system:node:n1", nodeGroups, servingUsages), mk("system:node:n1", []string{"system:masters"}, []string{"n1"}), n1, false},
		{"client usages", csr("system:node:n1", nodeGroups, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}), mk("system:node:n1", []string{"system:nodes"}, []string{"n1"}), n1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := servingApproval(tc.csr, tc.req, tc.node); got != tc.want {
				t.Errorf("approved=%v (%s), want %v", got, why, tc.want)
			}
		})
	}
}
