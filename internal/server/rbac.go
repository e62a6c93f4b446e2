package server

import (
	"context"

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
