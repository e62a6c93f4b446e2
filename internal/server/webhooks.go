package server

import (
	"context"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/admission/webhook"
)

// startWebhooks starts the admission webhook plugin's informers (configurations, namespaces, Services,
// EndpointSlices).
func startWebhooks(ctx context.Context, loopback *rest.Config, p *webhook.Plugin) error {
	client, err := kubernetes.NewForConfig(withAgent(loopback, "skiff-admission-webhook", 50))
	if err != nil {
		return err
	}
	p.Start(ctx, client)
	return nil
}
