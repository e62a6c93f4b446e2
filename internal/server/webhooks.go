package server

import (
	"context"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/admission/policy"
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

// startPolicies starts the ValidatingAdmissionPolicy and MutatingAdmissionPolicy plugins' informers
// (policies, bindings, namespaces; param kinds on demand through a dynamic client).
func startPolicies(ctx context.Context, loopback *rest.Config, vap *policy.Validating, mp *policy.Mutating) error {
	cfg := withAgent(loopback, "skiff-admission-policy", 50)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	vap.Start(ctx, client, dyn)
	mp.Start(ctx, client, dyn)
	return nil
}
