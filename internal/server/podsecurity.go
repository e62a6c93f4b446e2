package server

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/admission"
	"skiff/internal/admission/podsecurity"
)

// podSecurityAdmission builds the PodSecurity plugin from --pod-security-admission-config. The returned lister is
// filled once the API server exists (the plugin lists a namespace's pods when its enforce label tightens).
func podSecurityAdmission(cfg Config, ns admission.NamespaceGetter) (*podsecurity.Plugin, *func(context.Context) ([]runtime.Object, error), error) {
	var psc *podsecurity.Configuration
	if cfg.PodSecurityAdmissionConfig != "" {
		var err error
		if psc, err = podsecurity.LoadConfig(cfg.PodSecurityAdmissionConfig); err != nil {
			return nil, nil, err
		}
		slog.Info("pod security admission", "config", cfg.PodSecurityAdmissionConfig)
	}
	lister := new(func(context.Context) ([]runtime.Object, error))
	plugin, err := podsecurity.New(psc, ns, func(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
		if *lister == nil {
			return nil, nil
		}
		objs, err := (*lister)(ctx)
		if err != nil {
			return nil, err
		}
		var pods []*corev1.Pod
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok && p.Namespace == namespace {
				pods = append(pods, p)
			}
		}
		return pods, nil
	})
	return plugin, lister, err
}
