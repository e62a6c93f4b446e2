package server

import (
	"context"

	"k8s.io/client-go/rest"

	"skiff/internal/pki"
)

// Component identities. Each in-process component reaches the API as its own user with upstream's
// least-privilege role, not as the loopback system:masters identity (which only the API server's own work keeps:
// bootstrap objects, the kubernetes Service, the RBAC and authentication informers):
//
//	scheduler            system:kube-scheduler                      system:kube-scheduler, system:volume-scheduler
//	controller manager   system:kube-controller-manager             leader election, shared informers, events
//	  each controller    system:serviceaccount:kube-system:<name>   system:controller:<name>
//	namespace controller system:serviceaccount:kube-system:namespace-controller
//	service proxy        system:kube-proxy                          system:node-proxier
//	cluster DNS          system:serviceaccount:kube-system:kube-dns system:kube-dns
//	NetworkPolicy        system:skiff:network-policy                system:skiff:network-policy
//	pod overlay          system:skiff:overlay                       system:skiff:overlay
//	DNS endpoints writer system:skiff:dns-endpoints                 system:skiff:dns-endpoints
//
// The credentials are client certificates from the cluster CA, issued in memory at every start and never
// written to disk; a certificate lives a year (pki's leaf validity) and is renewed after eight months while the
// server runs (certrotation.go), its connections then closed and made again with the new one.

// identities issues in-memory client credentials for in-process components.
type identities struct {
	// ctx bounds the certificates' renewal.
	ctx  context.Context
	ca   *pki.CA
	host string
}

// config returns a client config for user in groups, with its own user agent and rate limit (qps, burst 2x).
func (ids identities) config(user string, groups []string, agent string, qps float32) (*rest.Config, error) {
	m, err := newMemoryCert(ids.ca, pki.Leaf{CommonName: user, Organization: groups, Client: true})
	if err != nil {
		return nil, err
	}
	c, err := rotatingClientConfig(ids.ctx, m, ids.host, ids.ca.CertPEM)
	if err != nil {
		return nil, err
	}
	c.UserAgent, c.QPS, c.Burst = agent, qps, int(qps)*2
	return c, nil
}

// serviceAccount returns a client config that authenticates as the ServiceAccount namespace/name, as a token
// for it would (user system:serviceaccount:<ns>:<name>, groups system:serviceaccounts and
// system:serviceaccounts:<ns>), so RBAC bindings to the ServiceAccount apply. No token or Secret is involved.
func (ids identities) serviceAccount(namespace, name, agent string, qps float32) (*rest.Config, error) {
	return ids.config("system:serviceaccount:"+namespace+":"+name,
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}, agent, qps)
}
