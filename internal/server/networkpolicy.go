package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/network/policy"
)

// startNetworkPolicy runs the NetworkPolicy controller of this node (the inet skiff-policy table). With
// dnsAddr (where pods' DNS traffic lands; "" when this node does not serve pods), the node's DNS server behind the kube-dns Service is governed by egress rules as the kube-dns
// pods of an upstream cluster would be (see package policy).
//
// With --disable-network-policy it only removes a table an earlier run left, so no pod stays isolated.
func startNetworkPolicy(ctx context.Context, cfg Config, ids identities, nodeName string, dnsAddr string) error {
	if cfg.DisableNetworkPolicy {
		if _, err := exec.LookPath("nft"); err == nil {
			if err := policy.DeleteTable(ctx); err != nil {
				slog.Warn("network policy disabled, but its table could not be removed", "table", "inet "+policy.Table, "err", err)
			}
		}
		return nil
	}
	if _, err := exec.LookPath("nft"); err != nil {
		slog.Warn("NetworkPolicies are not enforced: no nft tool", "err", err)
		return nil
	}
	pc := policy.Config{NodeName: nodeName}
	if dnsAddr != "" {
		ep, err := netip.ParseAddrPort(dnsAddr)
		if err != nil {
			return fmt.Errorf("cluster DNS address for pods: %w", err)
		}
		svcIP, err := netip.ParseAddr(cfg.ClusterDNS)
		if err != nil {
			return fmt.Errorf("--cluster-dns: %w", err)
		}
		pc.DNS = &policy.DNS{ServiceIP: svcIP, Endpoint: ep, Namespace: metav1.NamespaceSystem, Labels: map[string]string{"k8s-app": "kube-dns"}}
	}
	npCfg, err := ids.config("system:skiff:network-policy", nil, "skiff-network-policy", 50)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(npCfg)
	if err != nil {
		return err
	}
	go policy.New(client, pc).Run(ctx)
	return nil
}
