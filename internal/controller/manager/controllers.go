package manager

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"

	"skiff/internal/controller/bootstrapsigner"
	"skiff/internal/controller/certificates"
	"skiff/internal/controller/clusterroleaggregation"
	"skiff/internal/controller/cronjob"
	"skiff/internal/controller/daemonset"
	"skiff/internal/controller/deployment"
	"skiff/internal/controller/disruption"
	"skiff/internal/controller/endpointslice"
	"skiff/internal/controller/garbagecollector"
	"skiff/internal/controller/job"
	"skiff/internal/controller/nodeipam"
	"skiff/internal/controller/nodelifecycle"
	"skiff/internal/controller/podgc"
	"skiff/internal/controller/replicaset"
	"skiff/internal/controller/resourcequota"
	"skiff/internal/controller/serviceaccount"
	"skiff/internal/controller/servicelb"
	"skiff/internal/controller/statefulset"
	"skiff/internal/controller/tokencleaner"
)

// The controllers the manager runs, in start order. Each entry's package holds the controller itself; its
// Start sets up informers on cc.Informers and starts workers until ctx ends. ServiceAccount is the identity its
// cc.Client acts as (upstream's names; node ipam shares node-controller, as upstream).
func init() {
	registered = []Controller{
		{Name: "deployment", ServiceAccount: "deployment-controller", Start: func(ctx context.Context, cc *Context) error {
			return deployment.Start(ctx, cc.Client, cc.Informers, cc.Recorder("deployment-controller"))
		}},
		{Name: "disruption", ServiceAccount: "disruption-controller", Start: func(ctx context.Context, cc *Context) error {
			return disruption.Start(ctx, cc.Client, cc.Informers, cc.Recorder("controllermanager"))
		}},
		{Name: "podgc", ServiceAccount: "pod-garbage-collector", Start: func(ctx context.Context, cc *Context) error {
			return podgc.Start(ctx, cc.Client, cc.Informers)
		}},
		{Name: "replicaset", ServiceAccount: "replicaset-controller", Start: func(ctx context.Context, cc *Context) error {
			return replicaset.Start(ctx, cc.Client, cc.Informers, cc.Recorder("replicaset-controller"))
		}},
		{Name: "statefulset", ServiceAccount: "statefulset-controller", Start: func(ctx context.Context, cc *Context) error {
			return statefulset.Start(ctx, cc.Client, cc.Informers, cc.Recorder("statefulset-controller"))
		}},
		{Name: "job", ServiceAccount: "job-controller", Start: func(ctx context.Context, cc *Context) error {
			return job.Start(ctx, cc.Client, cc.Informers, cc.Recorder("job-controller"))
		}},
		{Name: "cronjob", ServiceAccount: "cronjob-controller", Start: func(ctx context.Context, cc *Context) error {
			return cronjob.Start(ctx, cc.Client, cc.Informers, cc.Recorder("cronjob-controller"))
		}},
		{Name: "ttl-after-finished", ServiceAccount: "ttl-after-finished-controller", Start: func(ctx context.Context, cc *Context) error {
			return job.StartTTLAfterFinished(ctx, cc.Client, cc.Informers)
		}},
		{Name: "daemonset", ServiceAccount: "daemon-set-controller", Start: func(ctx context.Context, cc *Context) error {
			return daemonset.Start(ctx, cc.Client, cc.Informers, cc.Recorder("daemonset-controller"))
		}},
		{Name: "garbagecollector", ServiceAccount: "generic-garbage-collector", Start: func(ctx context.Context, cc *Context) error {
			return garbagecollector.Start(ctx, cc.Config, cc.Client, cc.Resources, cc.Recorder("garbage-collector-controller"))
		}},
		{Name: "nodelifecycle", ServiceAccount: "node-controller", Start: func(ctx context.Context, cc *Context) error {
			return nodelifecycle.Start(ctx, cc.Client, cc.Informers, cc.Recorder("node-controller"),
				nodelifecycle.Options{NodeMonitorGracePeriod: cc.Options.NodeMonitorGracePeriod})
		}},
		{Name: "nodeipam", ServiceAccount: "node-controller", Start: func(ctx context.Context, cc *Context) error {
			if !cc.Options.ClusterCIDR.IsValid() {
				return nil // no --cluster-cidr: nodes bring their own pod CIDR
			}
			return nodeipam.Start(ctx, cc.Client, cc.Informers, cc.Recorder("node-ipam-controller"),
				nodeipam.Options{ClusterCIDR: cc.Options.ClusterCIDR, MaskSize: cc.Options.NodeCIDRMaskSize})
		}},
		{Name: "taint-eviction-controller", ServiceAccount: "taint-eviction-controller", Start: func(ctx context.Context, cc *Context) error {
			return nodelifecycle.StartTaintEviction(ctx, cc.Client, cc.Informers, cc.Recorder("taint-eviction-controller"))
		}},
		{Name: "endpointslice", ServiceAccount: "endpointslice-controller", Start: func(ctx context.Context, cc *Context) error {
			return endpointslice.Start(ctx, cc.Client, cc.Informers, cc.Recorder("endpointslice-controller"))
		}},
		{Name: "endpoints", ServiceAccount: "endpoint-controller", Start: func(ctx context.Context, cc *Context) error {
			return endpointslice.StartEndpoints(ctx, cc.Client, cc.Informers, cc.Recorder("endpoint-controller"))
		}},
		// The built-in load balancer (k3s's servicelb): node addresses in LoadBalancer Services' status.
		{Name: "servicelb", ServiceAccount: "servicelb-controller", Start: func(ctx context.Context, cc *Context) error {
			return servicelb.Start(ctx, cc.Client, cc.Informers)
		}},
		{Name: "clusterrole-aggregation", ServiceAccount: "clusterrole-aggregation-controller", Start: func(ctx context.Context, cc *Context) error {
			return clusterroleaggregation.Start(ctx, cc.Client, cc.Informers)
		}},
		{Name: "serviceaccount", ServiceAccount: "service-account-controller", Start: func(ctx context.Context, cc *Context) error {
			return serviceaccount.Start(ctx, cc.Client, cc.Informers, serviceaccount.Options{})
		}},
		// As upstream, the published CA is the one the controller manager's own client trusts.
		{Name: "root-ca-cert-publisher", ServiceAccount: "root-ca-cert-publisher", Start: func(ctx context.Context, cc *Context) error {
			return serviceaccount.StartRootCAPublisher(ctx, cc.Client, cc.Informers, cc.Options.RootCA)
		}},
		// Upstream runs it with the root credentials; skiff gives it kube-system/tokens-controller, whose role
		// reads and writes token Secrets and reads ServiceAccounts (see internal/auth/rbac/controllerroles.go).
		{Name: "serviceaccount-token", ServiceAccount: "tokens-controller", Start: func(ctx context.Context, cc *Context) error {
			if cc.Options.LegacyTokens == nil {
				return nil
			}
			return serviceaccount.StartTokens(ctx, cc.Client, cc.Informers, serviceaccount.TokensOptions{
				Generate: cc.Options.LegacyTokens, RootCA: cc.Options.RootCA})
		}},
		{Name: "resourcequota", ServiceAccount: "resourcequota-controller", Start: func(ctx context.Context, cc *Context) error {
			meta, err := metadata.NewForConfig(cc.Config)
			if err != nil {
				return err
			}
			return resourcequota.Start(ctx, cc.Client, cc.Informers, resourcequota.Options{Metadata: meta,
				Resolve: func(gr schema.GroupResource) (schema.GroupVersionResource, bool) {
					for _, r := range cc.Resources {
						if r.Namespaced && r.Group == gr.Group && r.Resource == gr.Resource {
							return r.GroupVersionResource, true
						}
					}
					return schema.GroupVersionResource{}, false
				}})
		}},
		// CertificateSigningRequests: sign, auto-approve node client requests, clean up (one identity, as upstream).
		{Name: "csrsigning", ServiceAccount: "certificate-controller", Start: func(ctx context.Context, cc *Context) error {
			if cc.Options.SigningCA == nil {
				return nil
			}
			return certificates.StartSigner(ctx, cc.Informers.Certificates().V1().CertificateSigningRequests(),
				&certificates.Signer{Client: cc.Client, CA: cc.Options.SigningCA, Duration: cc.Options.SigningDuration})
		}},
		{Name: "csrapproving", ServiceAccount: "certificate-controller", Start: func(ctx context.Context, cc *Context) error {
			return certificates.StartApprover(ctx, cc.Informers.Certificates().V1().CertificateSigningRequests(),
				&certificates.Approver{Client: cc.Client, ApproveKubeletServing: cc.Options.ApproveKubeletServing})
		}},
		{Name: "csrcleaner", ServiceAccount: "certificate-controller", Start: func(ctx context.Context, cc *Context) error {
			return certificates.StartCleaner(ctx, cc.Client, cc.Informers.Certificates().V1().CertificateSigningRequests())
		}},
		// Upstream leaves it off by default (kubeadm turns it on); skiff joins nodes with bootstrap tokens, so on.
		{Name: "tokencleaner", ServiceAccount: "token-cleaner", Start: func(ctx context.Context, cc *Context) error {
			return tokencleaner.Start(ctx, cc.Client)
		}},
		// Also off by default upstream (kubeadm turns it on): signs kube-public/cluster-info for node join.
		{Name: "bootstrapsigner", ServiceAccount: "bootstrap-signer", Start: func(ctx context.Context, cc *Context) error {
			return bootstrapsigner.Start(ctx, cc.Client)
		}},
	}
}
