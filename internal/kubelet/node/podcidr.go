package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// WaitPodCIDR returns the node's spec.podCIDR once it has one: set at registration (Config.PodCIDR) or by
// the control plane's nodeipam controller. It watches this node's object and says every logEvery what it
// waits for.
func (a *Agent) WaitPodCIDR(ctx context.Context, logEvery time.Duration) (netip.Prefix, error) {
	sel := fields.OneTermEqualSelector("metadata.name", a.cfg.Name).String()
	nodes := a.client.CoreV1().Nodes()
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return nodes.List(ctx, o)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return nodes.Watch(ctx, o)
		},
	}
	start := time.Now()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(logEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				slog.Warn("waiting for this node's pod CIDR (the control plane allocates it from --cluster-cidr; or set --pod-cidr)",
					"node", a.cfg.Name, "waited", time.Since(start).Round(time.Second).String())
			}
		}
	}()
	ev, err := watchtools.UntilWithSync(ctx, lw, &corev1.Node{}, nil, func(e watch.Event) (bool, error) {
		n, ok := e.Object.(*corev1.Node)
		return ok && e.Type != watch.Deleted && n.Spec.PodCIDR != "", nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return netip.Prefix{}, ctx.Err()
		}
		return netip.Prefix{}, err
	}
	n := ev.Object.(*corev1.Node)
	p, err := netip.ParsePrefix(n.Spec.PodCIDR)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("node %s spec.podCIDR: %w", a.cfg.Name, err)
	}
	return p.Masked(), nil
}
