package server

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/auth"
	nodeauthz "skiff/internal/auth/node"
	"skiff/internal/pki"
)

// startNodeAuthorizer starts the Node authorizer's pod and claim informers and returns once they have synced,
// so the node agent started after it finds its pods' secrets and tokens reachable from its first request.
func startNodeAuthorizer(ctx context.Context, loopback *rest.Config, z *nodeauthz.Authorizer) error {
	client, err := kubernetes.NewForConfig(withAgent(loopback, "skiff-node-authorizer", 50))
	if err != nil {
		return err
	}
	g, err := nodeauthz.StartGraph(ctx, client)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	z.SetGraph(g)
	return nil
}

// nodeClientConfig is the node agent's client: its own identity, system:node:<nodeName> in group system:nodes,
// in a client certificate from the cluster CA, as a kubelet's. The Node authorizer and NodeRestriction
// admission limit it to its own Node and the pods bound to it.
func nodeClientConfig(ctx context.Context, host string, ca *pki.CA, nodeName string) (*rest.Config, error) {
	m, err := newMemoryCert(ca, pki.Leaf{CommonName: auth.NodeUserPrefix + nodeName, Organization: []string{auth.GroupNodes}, Client: true})
	if err != nil {
		return nil, err
	}
	c, err := rotatingClientConfig(ctx, m, host, ca.CertPEM)
	if err != nil {
		return nil, err
	}
	c.UserAgent, c.QPS, c.Burst = "skiff-kubelet", 200, 400
	return c, nil
}
