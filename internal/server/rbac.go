package server

import (
	"context"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/auth/rbac"
)

// startRBAC starts the RBAC authorizer's informers, over the loopback client once the API serves.
func startRBAC(ctx context.Context, loopback *rest.Config, z *rbac.Authorizer) error {
	client, err := kubernetes.NewForConfig(withAgent(loopback, "skiff-rbac", 50))
	if err != nil {
		return err
	}
	z.Start(ctx, client)
	return nil
}

// waitRBAC waits until the RBAC authorizer answers, so components with their own identities are not refused at
// start (until its informers sync, only system:masters gets through).
func waitRBAC(ctx context.Context, z *rbac.Authorizer) error {
	for z.Resolver() == nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
