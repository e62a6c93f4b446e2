package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// monitorNodeHealth is one pass of the health monitor over every node.
func (c *Controller) monitorNodeHealth(ctx context.Context) error {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	added, deleted, newZones := c.classifyNodes(nodes)
	for _, n := range newZones {
		c.addZone(n)
	}
	for _, n := range added {
		recordNodeEvent(c.recorder, n.Name, string(n.UID), corev1.EventTypeNormal, "RegisteredNode", fmt.Sprintf("Registered Node %v in Controller", n.Name))
		c.knownNodes[n.Name] = n
		c.addZone(n)
		if _, err := c.markNodeAsReachable(ctx, n); err != nil && ctx.Err() == nil {
			slog.Warn("node taints", "node", n.Name, "err", err)
		}
	}
	for _, n := range deleted {
		recordNodeEvent(c.recorder, n.Name, string(n.UID), corev1.EventTypeNormal, "RemovingNode", fmt.Sprintf("Removing Node %v from Controller", n.Name))
		delete(c.knownNodes, n.Name)
		c.healthMu.Lock()
		delete(c.health, n.Name)
		c.healthMu.Unlock()
		c.evictorMu.Lock()
		if q := c.zoneTainter[zoneKey(n)]; q != nil {
			q.remove(n.Name)
		}
		c.evictorMu.Unlock()
	}

	zoneConditions := map[string][]*corev1.NodeCondition{}
	for _, cached := range nodes {
		node := cached.DeepCopy()
		var observed corev1.NodeCondition
		var current *corev1.NodeCondition
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if _, observed, current, err = c.tryUpdateNodeHealth(ctx, node); err == nil {
				break
			}
			fresh, gerr := c.client.CoreV1().Nodes().Get(ctx, cached.Name, metav1.GetOptions{})
			if gerr != nil {
				err = gerr
				break
			}
			node = fresh
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			if ctx.Err() == nil && !apierrors.IsNotFound(err) {
				slog.Warn("node health update failed; no pods will be evicted from it this time", "node", node.Name, "err", err)
			}
			continue
		}
		if _, excluded := node.Labels[excludeDisruptionLabel]; !excluded {
			zone := zoneKey(node)
			zoneConditions[zone] = append(zoneConditions[zone], current)
		}
		if current != nil {
			pods := podsOnNode(c.podIndexer, node.Name)
			c.processTaintBaseEviction(ctx, node, &observed)
			_, needsRetry := c.nodesToRetry.Load(node.Name)
			switch {
			case current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue:
				// Reported once, when the node stops being ready.
				recordNodeStatusChange(c.recorder, node, "NodeNotReady")
				fallthrough
			case needsRetry && observed.Status != corev1.ConditionTrue:
				if err := markPodsNotReady(ctx, c.client, c.recorder, pods, node.Name, c.opts.Now()); err != nil {
					slog.Warn("marking pods not ready", "node", node.Name, "err", err)
					c.nodesToRetry.Store(node.Name, struct{}{})
					continue
				}
			}
		}
		c.nodesToRetry.Delete(node.Name)
	}
	c.handleDisruption(ctx, zoneConditions, nodes)
	return nil
}

// classifyNodes splits nodes into ones not seen before, known ones that are gone, and ones whose zone is new.
func (c *Controller) classifyNodes(nodes []*corev1.Node) (added, deleted, newZones []*corev1.Node) {
	seen := map[string]bool{}
	c.evictorMu.Lock()
	for _, n := range nodes {
		seen[n.Name] = true
		if _, ok := c.knownNodes[n.Name]; !ok {
			added = append(added, n)
		} else if _, ok := c.zoneStates[zoneKey(n)]; !ok {
			newZones = append(newZones, n)
		}
	}
	c.evictorMu.Unlock()
	for name, n := range c.knownNodes {
		if !seen[name] {
			deleted = append(deleted, n)
		}
	}
	return added, deleted, newZones
}

func (c *Controller) addZone(n *corev1.Node) {
	c.evictorMu.Lock()
	defer c.evictorMu.Unlock()
	zone := zoneKey(n)
	if _, ok := c.zoneStates[zone]; !ok {
		c.zoneStates[zone] = stateInitial
		if c.zoneTainter[zone] == nil {
			c.zoneTainter[zone] = newZoneQueue(c.opts.EvictionLimiterQPS)
		}
	}
}

// tryUpdateNodeHealth checks one node's heartbeats and, when the grace period has passed without one, sets its
// conditions Unknown. It returns the grace period used, the Ready condition as observed and as it is now.
func (c *Controller) tryUpdateNodeHealth(ctx context.Context, node *corev1.Node) (time.Duration, corev1.NodeCondition, *corev1.NodeCondition, error) {
	now := c.opts.Now()
	c.healthMu.Lock()
	var h *nodeHealth
	if saved := c.health[node.Name]; saved != nil {
		copied := *saved
		h = &copied
	}
	c.healthMu.Unlock()
	defer func() {
		c.healthMu.Lock()
		c.health[node.Name] = h
		c.healthMu.Unlock()
	}()

	var gracePeriod time.Duration
	var observed corev1.NodeCondition
	_, current := condition(&node.Status, corev1.NodeReady)
	if current == nil {
		// Never posted: as upstream, pretend a Ready Unknown since the node's creation.
		observed = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: node.CreationTimestamp}
		gracePeriod = c.opts.NodeStartupGracePeriod
		if h != nil {
			h.status = &node.Status
		} else {
			h = &nodeHealth{status: &node.Status, probeTimestamp: node.CreationTimestamp.Time, readyTransitionTimestamp: node.CreationTimestamp.Time}
		}
	} else {
		observed = *current
		gracePeriod = c.opts.NodeMonitorGracePeriod
	}

	var savedCond *corev1.NodeCondition
	var savedLease *coordinationv1.Lease
	if h != nil {
		_, savedCond = condition(h.status, corev1.NodeReady)
		savedLease = h.lease
	}
	switch {
	case h == nil:
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case savedCond == nil && current != nil:
		// First Ready condition seen (or the controller just started leading).
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case savedCond != nil && current == nil:
		// The Ready condition was removed: start over.
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case savedCond != nil && current != nil && !savedCond.LastHeartbeatTime.Equal(&current.LastHeartbeatTime):
		// A new heartbeat; a transition too if the transition time moved.
		transition := h.readyTransitionTimestamp
		if !savedCond.LastTransitionTime.Equal(&current.LastTransitionTime) {
			transition = now
		}
		h = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: transition}
	}
	lease, _ := c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(node.Name)
	if lease != nil && lease.Spec.RenewTime != nil && (savedLease == nil || savedLease.Spec.RenewTime == nil || savedLease.Spec.RenewTime.Before(lease.Spec.RenewTime)) {
		h.lease = lease
		h.probeTimestamp = now
	} else if h.lease == nil {
		h.lease = savedLease
	}

	if now.After(h.probeTimestamp.Add(gracePeriod)) {
		stamp := metav1.NewTime(now)
		for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			_, cond := condition(&node.Status, t)
			switch {
			case cond == nil:
				node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{Type: t, Status: corev1.ConditionUnknown,
					Reason: reasonStatusNeverUpdated, Message: messageNeverUpdated, LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: stamp})
			case cond.Status != corev1.ConditionUnknown:
				cond.Status, cond.Reason, cond.Message, cond.LastTransitionTime = corev1.ConditionUnknown, reasonStatusUnknown, messageStatusUnknown, stamp
			}
		}
		_, current = condition(&node.Status, corev1.NodeReady)
		if !apiequality.Semantic.DeepEqual(current, &observed) {
			updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
			if err != nil {
				return gracePeriod, observed, current, err
			}
			h = &nodeHealth{status: &updated.Status, probeTimestamp: h.probeTimestamp, readyTransitionTimestamp: now, lease: h.lease}
			return gracePeriod, observed, current, nil
		}
	}
	return gracePeriod, observed, current, nil
}

// processTaintBaseEviction queues a not ready or unreachable node for its NoExecute taint, swaps one for the
// other at once, or removes both from a ready node.
func (c *Controller) processTaintBaseEviction(ctx context.Context, node *corev1.Node, observed *corev1.NodeCondition) {
	switch observed.Status {
	case corev1.ConditionFalse:
		if hasTaint(node.Spec.Taints, unreachableNoExecute) {
			if err := swapTaints(ctx, c.client, node, []corev1.Taint{notReadyNoExecute}, []corev1.Taint{unreachableNoExecute}, c.opts.Now()); err != nil {
				slog.Warn("swapping the unreachable taint for not-ready; retrying next pass", "node", node.Name, "err", err)
			}
		} else {
			c.markNodeForTainting(node)
		}
	case corev1.ConditionUnknown:
		if hasTaint(node.Spec.Taints, notReadyNoExecute) {
			if err := swapTaints(ctx, c.client, node, []corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}, c.opts.Now()); err != nil {
				slog.Warn("swapping the not-ready taint for unreachable; retrying next pass", "node", node.Name, "err", err)
			}
		} else {
			c.markNodeForTainting(node)
		}
	case corev1.ConditionTrue:
		if _, err := c.markNodeAsReachable(ctx, node); err != nil {
			slog.Warn("removing NoExecute taints", "node", node.Name, "err", err)
		}
	}
}

func (c *Controller) markNodeForTainting(node *corev1.Node) bool {
	c.evictorMu.Lock()
	defer c.evictorMu.Unlock()
	q := c.zoneTainter[zoneKey(node)]
	if q == nil {
		return false
	}
	return q.add(node.Name, string(node.UID), c.opts.Now())
}

// markNodeAsReachable removes the not-ready and unreachable NoExecute taints and drops the node from its
// zone's queue.
func (c *Controller) markNodeAsReachable(ctx context.Context, node *corev1.Node) (bool, error) {
	if hasTaint(node.Spec.Taints, unreachableNoExecute) || hasTaint(node.Spec.Taints, notReadyNoExecute) {
		if err := swapTaints(ctx, c.client, node, nil, []corev1.Taint{unreachableNoExecute, notReadyNoExecute}, c.opts.Now()); err != nil {
			return false, err
		}
	}
	c.evictorMu.Lock()
	defer c.evictorMu.Unlock()
	if q := c.zoneTainter[zoneKey(node)]; q != nil {
		return q.remove(node.Name), nil
	}
	return false, nil
}

// condition returns the index and a pointer into status of the condition of type t, or -1 and nil.
func condition(status *corev1.NodeStatus, t corev1.NodeConditionType) (int, *corev1.NodeCondition) {
	if status == nil {
		return -1, nil
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return i, &status.Conditions[i]
		}
	}
	return -1, nil
}

// markPodsNotReady sets the Ready condition of the node's pods False, as upstream's MarkPodsNotReady: only
// pods that have a Ready condition, keeping its reason and message, and a NodeNotReady event on each.
func markPodsNotReady(ctx context.Context, client kubernetes.Interface, recorder record.EventRecorder, pods []*corev1.Pod, nodeName string, now time.Time) error {
	var errs []error
	for _, p := range pods {
		if p.Spec.NodeName != nodeName {
			continue
		}
		pod := p.DeepCopy()
		for i := range pod.Status.Conditions {
			cond := &pod.Status.Conditions[i]
			if cond.Type != corev1.PodReady {
				continue
			}
			if cond.Status == corev1.ConditionFalse {
				break
			}
			cond.Status, cond.LastTransitionTime = corev1.ConditionFalse, metav1.NewTime(now)
			if _, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					break
				}
				errs = append(errs, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err))
				break
			}
			recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
			break
		}
	}
	return errors.Join(errs...)
}

// recordNodeEvent records an event about a node, as upstream's RecordNodeEvent.
func recordNodeEvent(recorder record.EventRecorder, nodeName, uid, eventType, reason, event string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: nodeName, UID: types.UID(uid)}
	recorder.Eventf(ref, eventType, reason, "Node %s event: %s", nodeName, event)
}

// recordNodeStatusChange records a node's new status, as upstream's RecordNodeStatusChange (whose reference
// carries the node's name as its UID).
func recordNodeStatusChange(recorder record.EventRecorder, node *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: types.UID(node.Name)}
	recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}
