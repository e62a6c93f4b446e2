package nodelifecycle

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// doNoExecuteTaintingPass taints the queued nodes, as fast as each zone's limiter allows.
func (c *Controller) doNoExecuteTaintingPass(ctx context.Context) {
	c.evictorMu.Lock()
	queues := make([]*zoneQueue, 0, len(c.zoneTainter))
	for _, q := range c.zoneTainter {
		queues = append(queues, q)
	}
	c.evictorMu.Unlock()
	for _, q := range queues {
		q.try(c.opts.Now(), func(name, _ string) (bool, time.Duration) {
			node, err := c.nodeLister.Get(name)
			if apierrors.IsNotFound(err) {
				return true, 0
			}
			if err != nil {
				return false, 50 * time.Millisecond
			}
			_, cond := condition(&node.Status, corev1.NodeReady)
			if cond == nil {
				return true, 0
			}
			// Unreachable and not-ready exclude each other, as the Ready condition's values do.
			var add, opposite corev1.Taint
			switch cond.Status {
			case corev1.ConditionFalse:
				add, opposite = notReadyNoExecute, unreachableNoExecute
			case corev1.ConditionUnknown:
				add, opposite = unreachableNoExecute, notReadyNoExecute
			default:
				// Ready again: nothing to do.
				return true, 0
			}
			if err := swapTaints(ctx, c.client, node, []corev1.Taint{add}, []corev1.Taint{opposite}, c.opts.Now()); err != nil {
				if ctx.Err() == nil {
					slog.Warn("NoExecute taint", "node", name, "err", err)
				}
				return false, 0
			}
			return true, 0
		})
	}
}

// handleDisruption recomputes each zone's state and its tainting rate; when every zone is fully disrupted it
// stops NoExecute tainting and removes the taints (the control plane may be what is cut off).
func (c *Controller) handleDisruption(ctx context.Context, zoneConditions map[string][]*corev1.NodeCondition, nodes []*corev1.Node) {
	c.evictorMu.Lock()
	newStates := map[string]zoneState{}
	allAreFullyDisrupted := true
	for zone, conds := range zoneConditions {
		state := c.computeZoneState(conds)
		if state != stateFullDisruption {
			allAreFullyDisrupted = false
		}
		newStates[zone] = state
		if _, ok := c.zoneStates[zone]; !ok {
			c.zoneStates[zone] = stateInitial
			if c.zoneTainter[zone] == nil {
				c.zoneTainter[zone] = newZoneQueue(c.opts.EvictionLimiterQPS)
			}
		}
	}
	allWasFullyDisrupted := true
	for zone, state := range c.zoneStates {
		if _, ok := zoneConditions[zone]; !ok {
			// No node counts there any more (its tainting queue stays).
			delete(c.zoneStates, zone)
			continue
		}
		if state != stateFullDisruption {
			allWasFullyDisrupted = false
		}
	}
	if allAreFullyDisrupted && allWasFullyDisrupted {
		c.evictorMu.Unlock()
		return
	}
	if allAreFullyDisrupted {
		slog.Info("all nodes are not ready: entering master disruption mode, no NoExecute taints")
		for zone := range c.zoneStates {
			c.zoneTainter[zone].swapLimiter(0)
			c.zoneStates[zone] = stateFullDisruption
		}
		c.evictorMu.Unlock()
		for _, n := range nodes {
			if _, err := c.markNodeAsReachable(ctx, n); err != nil && ctx.Err() == nil {
				slog.Warn("removing NoExecute taints", "node", n.Name, "err", err)
			}
		}
		return
	}
	if allWasFullyDisrupted {
		slog.Info("some nodes are ready: leaving master disruption mode")
		// Every node gets a fresh grace period.
		now := c.opts.Now()
		c.healthMu.Lock()
		for _, n := range nodes {
			if h := c.health[n.Name]; h != nil {
				copied := *h
				copied.probeTimestamp, copied.readyTransitionTimestamp = now, now
				c.health[n.Name] = &copied
			}
		}
		c.healthMu.Unlock()
		for zone := range c.zoneStates {
			c.setLimiterInZone(zone, len(zoneConditions[zone]), newStates[zone])
			c.zoneStates[zone] = newStates[zone]
		}
		c.evictorMu.Unlock()
		return
	}
	for zone, state := range c.zoneStates {
		if next := newStates[zone]; next != state {
			slog.Info("zone is in a new state", "zone", zone, "state", string(next))
			c.setLimiterInZone(zone, len(zoneConditions[zone]), next)
			c.zoneStates[zone] = next
		}
	}
	c.evictorMu.Unlock()
}

func (c *Controller) computeZoneState(conds []*corev1.NodeCondition) zoneState {
	ready, notReady := 0, 0
	for _, cond := range conds {
		if cond != nil && cond.Status == corev1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return stateFullDisruption
	case notReady > 2 && float32(notReady)/float32(notReady+ready) >= c.opts.UnhealthyZoneThreshold:
		return statePartialDisruption
	default:
		return stateNormal
	}
}

func (c *Controller) setLimiterInZone(zone string, size int, state zoneState) {
	q := c.zoneTainter[zone]
	switch state {
	case stateNormal, stateFullDisruption:
		q.swapLimiter(c.opts.EvictionLimiterQPS)
	case statePartialDisruption:
		if size > c.opts.LargeClusterThreshold {
			q.swapLimiter(c.opts.SecondaryEvictionLimiterQPS)
		} else {
			q.swapLimiter(0)
		}
	}
}

// zoneKey is upstream's zone of a node: region and zone labels (the deprecated beta ones first).
func zoneKey(n *corev1.Node) string {
	zone, ok := n.Labels[corev1.LabelFailureDomainBetaZone]
	if !ok {
		zone = n.Labels[corev1.LabelTopologyZone]
	}
	region, ok := n.Labels[corev1.LabelFailureDomainBetaRegion]
	if !ok {
		region = n.Labels[corev1.LabelTopologyRegion]
	}
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}
