package certificates

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// TestServingDecisions: the approver applies the rule with the requester's Node: approved, retried while the
// Node does not exist, left pending (no error, no retry) when refused.
func TestServingDecisions(t *testing.T) {
	serving := certificatesv1.KubeletServingSignerName
	n1 := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}}}}
	own := reqOpts{cn: "system:node:n1", org: []string{"system:nodes"}, dns: []string{"n1"}, ips: []net.IP{net.ParseIP("10.0.0.5")}}
	foreign := reqOpts{cn: "system:node:n1", org: []string{"system:nodes"}, dns: []string{"n1"}, ips: []net.IP{net.ParseIP("10.0.0.9")}}
	for _, tc := range []struct {
		name      string
		csr       *certificatesv1.CertificateSigningRequest
		node      *corev1.Node
		want      string
		wantRetry bool
	}{
		{"approved", csrFor(t, serving, "system:node:n1", own, servingUsages), n1, servingApprovalMessage, false},
		{"node not registered", csrFor(t, serving, "system:node:n1", own, servingUsages), nil, "", true},
		{"refused", csrFor(t, serving, "system:node:n1", foreign, servingUsages), n1, "", false},
		{"not a node", csrFor(t, serving, "alice", own, servingUsages), n1, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.csr.Spec.Groups = []string{"system:nodes", "system:authenticated"}
			a := &Approver{ApproveKubeletServing: true, Node: func(_ context.Context, name string) (*corev1.Node, error) {
				if name != "n1" || tc.node == nil {
					return nil, apierrors.NewNotFound(corev1.Resource("nodes"), name)
				}
				return tc.node, nil
			}}
			msg, _, err := a.decide(context.Background(), tc.csr)
			if msg != tc.want || (err != nil) != tc.wantRetry {
				t.Fatalf("message %q err %v, want %q retry=%v", msg, err, tc.want, tc.wantRetry)
			}
			// Off by default (upstream never auto-approves serving certificates): left for an administrator.
			a.ApproveKubeletServing = false
			if msg, _, err := a.decide(context.Background(), tc.csr); msg != "" || err != nil {
				t.Fatalf("rule off: message %q err %v", msg, err)
			}
		})
	}
}
