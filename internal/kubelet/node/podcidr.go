package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WaitPodCIDR returns the node's spec.podCIDR once it has one: set at registration (Config.PodCIDR) or by
// the control plane's nodeipam controller. Until then it polls every interval and says every 30 s what it
// waits for.
func (a *Agent) WaitPodCIDR(ctx context.Context, interval time.Duration) (netip.Prefix, error) {
	start, lastLog := time.Now(), time.Now()
	for {
		n, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			p, err := netip.ParsePrefix(n.Spec.PodCIDR)
			if err != nil {
				return netip.Prefix{}, fmt.Errorf("node %s spec.podCIDR: %w", a.cfg.Name, err)
			}
			return p.Masked(), nil
		}
		if time.Since(lastLog) >= 30*time.Second {
			lastLog = time.Now()
			slog.Warn("waiting for this node's pod CIDR (the control plane allocates it from --cluster-cidr; or set --pod-cidr)",
				"node", a.cfg.Name, "waited", time.Since(start).Round(time.Second).String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return netip.Prefix{}, ctx.Err()
		case <-time.After(interval):
		}
	}
}
