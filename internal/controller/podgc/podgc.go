// Package podgc is the pod garbage collector, with upstream's rules, checked every 20 s: finished pods
// (Succeeded/Failed) beyond the terminated-pod threshold go, oldest first; pods bound to a node that no longer
// exists (still absent after a 40 s quarantine) are force-deleted; so are pods being deleted that were never
// scheduled, and pods being deleted on a node tainted node.kubernetes.io/out-of-service. Pods it removes get
// the DisruptionTarget condition (reason DeletionByPodGC) first, as upstream.
//
//	every 20 s: pod and node listers ─▶ finished beyond threshold / orphaned / unscheduled terminating /
//	            out-of-service terminating ─▶ DisruptionTarget ─▶ DELETE (grace 0)
package podgc

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Upstream's defaults.
const (
	checkPeriod       = 20 * time.Second
	quarantineTime    = 40 * time.Second
	terminatedPodsMax = 12500
)

// Controller removes pods no one else will.
type Controller struct {
	client    kubernetes.Interface
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	threshold int
	now       func() time.Time
	// absentSince remembers when a node a pod is bound to was first seen missing.
	mu          sync.Mutex
	absentSince map[string]time.Time
	quarantine  time.Duration
}

// victim is a pod to remove and, for pods not yet finished, the DisruptionTarget message to give it.
type victim struct {
	pod *corev1.Pod
	why string
}

// Start registers the listers and runs the periodic check until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	podInf, nodeInf := factory.Core().V1().Pods(), factory.Core().V1().Nodes()
	c := &Controller{client: client, pods: podInf.Lister(), nodes: nodeInf.Lister(), threshold: terminatedPodsMax, now: time.Now,
		absentSince: map[string]time.Time{}, quarantine: quarantineTime}
	go func() {
		if !cache.WaitForCacheSync(ctx.Done(), podInf.Informer().HasSynced, nodeInf.Informer().HasSynced) {
			return
		}
		t := time.NewTicker(checkPeriod)
		defer t.Stop()
		for {
			c.gc(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

func (c *Controller) gc(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	for _, v := range c.collect(pods, nodes) {
		c.forceDelete(ctx, v)
	}
}

// collect decides which pods to remove now.
func (c *Controller) collect(pods []*corev1.Pod, nodes []*corev1.Node) []victim {
	now := c.now()
	byName := map[string]*corev1.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	var out []victim
	picked := map[*corev1.Pod]bool{}
	pick := func(p *corev1.Pod, why string) {
		if !picked[p] {
			picked[p] = true
			out = append(out, victim{p, why})
		}
	}
	// Finished pods beyond the threshold, oldest first.
	var finished []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			finished = append(finished, p)
		}
	}
	if c.threshold > 0 && len(finished) > c.threshold {
		sort.SliceStable(finished, func(i, j int) bool { return finished[i].CreationTimestamp.Before(&finished[j].CreationTimestamp) })
		for _, p := range finished[:len(finished)-c.threshold] {
			pick(p, "")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	missing := map[string]bool{}
	for _, p := range pods {
		switch {
		case p.Spec.NodeName == "" && p.DeletionTimestamp != nil:
			pick(p, "")
		case p.Spec.NodeName != "" && byName[p.Spec.NodeName] == nil:
			missing[p.Spec.NodeName] = true
			since, ok := c.absentSince[p.Spec.NodeName]
			if !ok {
				c.absentSince[p.Spec.NodeName] = now
			} else if now.Sub(since) >= c.quarantine {
				pick(p, "PodGC: node no longer exists")
			}
		case p.Spec.NodeName != "" && p.DeletionTimestamp != nil && outOfService(byName[p.Spec.NodeName]):
			pick(p, "PodGC: node is out of service")
		}
	}
	for n := range c.absentSince {
		if !missing[n] {
			delete(c.absentSince, n)
		}
	}
	return out
}

func outOfService(n *corev1.Node) bool {
	if n == nil {
		return false
	}
	ready := false // no Ready condition counts as not ready, as upstream
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeOutOfService && !ready {
			return true
		}
	}
	return false
}

func (c *Controller) forceDelete(ctx context.Context, v victim) {
	p := v.pod
	if v.why != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		cp := p.DeepCopy()
		// As upstream, the pod is marked Failed before it is force-deleted, so finalizers see a final phase.
		cp.Status.Phase = corev1.PodFailed
		found := false
		cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByPodGC",
			Message: v.why, LastTransitionTime: metav1.NewTime(c.now())}
		for i := range cp.Status.Conditions {
			if cp.Status.Conditions[i].Type == corev1.DisruptionTarget {
				cp.Status.Conditions[i], found = cond, true
			}
		}
		if !found {
			cp.Status.Conditions = append(cp.Status.Conditions, cond)
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			slog.Debug("podgc condition", "pod", p.Namespace+"/"+p.Name, "err", err)
		}
	}
	zero := int64(0)
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		slog.Debug("podgc delete", "pod", p.Namespace+"/"+p.Name, "err", err)
		return
	}
	slog.Info("pod garbage-collected", "pod", p.Namespace+"/"+p.Name, "node", p.Spec.NodeName)
}
