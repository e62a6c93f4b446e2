package server

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	nodeauthz "skiff/internal/auth/node"
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
