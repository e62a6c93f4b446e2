package pods

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// runHook runs a lifecycle hook (exec in the container, HTTP GET to the pod, or sleep), bounded by timeout.
func (w *worker) runHook(ctx context.Context, c *corev1.Container, id string, h *corev1.LifecycleHandler, podIP string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		_, _, err := w.cfg.Runtime.ExecSync(ctx, id, h.Exec.Command, timeout)
		return err
	case h.HTTPGet != nil:
		return httpGet(ctx, c, h.HTTPGet, podIP, timeout)
	case h.Sleep != nil:
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	return nil
}
