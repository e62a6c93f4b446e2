package server

import (
	"context"
	"log/slog"
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
	start := time.Now()
	logged := start
	for z.Resolver() == nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		// The informers read through the loopback client; if they cannot, say so rather than hang silently.
		if time.Since(logged) >= 10*time.Second {
			logged = time.Now()
			slog.Warn("still waiting for the RBAC informers to sync", "waited", time.Since(start).Round(time.Second))
		}
	}
	return nil
}
