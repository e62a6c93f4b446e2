// Package disruption is the PodDisruptionBudget controller, with upstream's semantics: for each budget it
// counts the pods its selector matches, how many of them are healthy (Ready, not being deleted, not recently
// evicted), how many must stay healthy (minAvailable, or the expected pod count from the pods' controllers
// minus maxUnavailable; percentages against that expected count), and publishes disruptionsAllowed with the
// DisruptionAllowed condition. The eviction subresource of the API server spends those disruptions; entries
// in disruptedPods that the informer has not seen go away within two minutes are dropped.
//
//	PDB/Pod informers ─▶ queue (pdb key) ─▶ sync: pods ─▶ expected scale (RS/Deployment/StatefulSet/RC)
//	   ─▶ currentHealthy, desiredHealthy, disruptionsAllowed ─▶ status
package disruption

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controller/controllerutil"
)

// disruptedTimeout is how long an eviction stays in disruptedPods without the pod being seen to go.
const disruptedTimeout = 2 * time.Minute

// Controller keeps PodDisruptionBudget status.
type Controller struct {
	client   kubernetes.Interface
	pdbs     policylisters.PodDisruptionBudgetLister
	pods     corelisters.PodLister
	rss      appslisters.ReplicaSetLister
	deploys  appslisters.DeploymentLister
	sts      appslisters.StatefulSetLister
	rcs      corelisters.ReplicationControllerLister
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	now      func() time.Time
}

// Start registers the controller's informer handlers and starts its workers until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder) error {
	pdbInf := factory.Policy().V1().PodDisruptionBudgets()
	podInf := factory.Core().V1().Pods()
	c := &Controller{client: client, pdbs: pdbInf.Lister(), pods: podInf.Lister(), rss: factory.Apps().V1().ReplicaSets().Lister(),
		deploys: factory.Apps().V1().Deployments().Lister(), sts: factory.Apps().V1().StatefulSets().Lister(),
		rcs: factory.Core().V1().ReplicationControllers().Lister(), recorder: recorder, now: time.Now,
		queue: controllerutil.NewQueue("disruption")}
	enqueuePDB := func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		if pdb, ok := o.(*policyv1.PodDisruptionBudget); ok {
			c.queue.Add(pdb.Namespace + "/" + pdb.Name)
		}
	}
	if _, err := pdbInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueuePDB, UpdateFunc: func(_, n any) { enqueuePDB(n) }, DeleteFunc: enqueuePDB,
	}); err != nil {
		return err
	}
	podChanged := func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		if pod, ok := o.(*corev1.Pod); ok {
			for _, pdb := range c.budgetsFor(pod) {
				enqueuePDB(pdb)
			}
		}
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: podChanged, UpdateFunc: func(o, n any) { podChanged(o); podChanged(n) }, DeleteFunc: podChanged,
	}); err != nil {
		return err
	}
	// Listers the expected-scale lookup reads; the manager starts their informers.
	synced := []cache.InformerSynced{pdbInf.Informer().HasSynced, podInf.Informer().HasSynced,
		factory.Apps().V1().ReplicaSets().Informer().HasSynced, factory.Apps().V1().Deployments().Informer().HasSynced,
		factory.Apps().V1().StatefulSets().Informer().HasSynced, factory.Core().V1().ReplicationControllers().Informer().HasSynced}
	controllerutil.Run(ctx, "disruption", c.queue, 2, c.sync, synced...)
	return nil
}

func (c *Controller) budgetsFor(pod *corev1.Pod) []*policyv1.PodDisruptionBudget {
	all, _ := c.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	return controllerutil.Selecting(all, func(pdb *policyv1.PodDisruptionBudget) *metav1.LabelSelector { return pdb.Spec.Selector }, pod.Labels)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	cached, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pdb := cached.DeepCopy()
	var pods []*corev1.Pod
	if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && !sel.Empty() {
		pods, _ = c.pods.Pods(ns).List(sel)
	}
	now := c.now()
	expected, desired, err := c.expectedAndDesired(pdb, pods)
	if err != nil {
		c.recorder.Eventf(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", err)
		return c.writeFailed(ctx, pdb, err)
	}
	disrupted, recheck := c.pruneDisrupted(pdb, pods, now)
	healthy := int32(0)
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if _, gone := disrupted[p.Name]; gone {
			continue
		}
		if ready(p) {
			healthy++
		}
	}
	allowed := max(healthy-desired, 0)
	if expected <= 0 {
		// As upstream: a budget that expects no pods allows no disruption.
		allowed = 0
	}
	st := pdb.Status.DeepCopy()
	st.ExpectedPods, st.DesiredHealthy, st.CurrentHealthy, st.DisruptionsAllowed = expected, desired, healthy, allowed
	st.DisruptedPods = disrupted
	st.ObservedGeneration = pdb.Generation
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue, Reason: policyv1.SufficientPodsReason,
		ObservedGeneration: pdb.Generation, LastTransitionTime: metav1.NewTime(now)}
	if allowed == 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, policyv1.InsufficientPodsReason
	}
	setCondition(st, cond)
	if recheck > 0 {
		c.queue.AddAfter(key, recheck)
	}
	if apiequality.Semantic.DeepEqual(&pdb.Status, st) {
		return nil
	}
	pdb.Status = *st
	_, err = c.client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // a newer copy is on its way through the informer
	}
	return err
}

// expectedAndDesired computes expectedPods and desiredHealthy as upstream: minAvailable as a number needs no
// controller; maxUnavailable and percentages are taken against the replicas the pods' controllers want.
func (c *Controller) expectedAndDesired(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (int32, int32, error) {
	if pdb.Spec.MaxUnavailable != nil {
		expected, err := c.expectedScale(pods)
		if err != nil {
			return 0, 0, err
		}
		mu, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, max(expected-int32(mu), 0), nil
	}
	if pdb.Spec.MinAvailable == nil {
		// Neither is set: nothing must stay healthy, as upstream.
		return 0, 0, nil
	}
	if pdb.Spec.MinAvailable.Type == intstr.Int {
		return int32(len(pods)), pdb.Spec.MinAvailable.IntVal, nil
	}
	expected, err := c.expectedScale(pods)
	if err != nil {
		return 0, 0, err
	}
	ma, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
	if err != nil {
		return 0, 0, err
	}
	return expected, int32(ma), nil
}

// expectedScale sums spec.replicas of the controllers of the pods (a ReplicaSet owned by a Deployment counts
// as the Deployment), each controller once.
func (c *Controller) expectedScale(pods []*corev1.Pod) (int32, error) {
	seen := map[types.UID]bool{}
	var total int32
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			// Unmanaged pods do not count toward the expected scale (upstream reports them in an event).
			continue
		}
		uid, n, err := c.scaleOf(p.Namespace, ref)
		if err != nil {
			return 0, err
		}
		if !seen[uid] {
			seen[uid] = true
			total += n
		}
	}
	return total, nil
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func (c *Controller) scaleOf(ns string, ref *metav1.OwnerReference) (types.UID, int32, error) {
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, fmt.Errorf("replicaset %s/%s not found", ns, ref.Name)
		}
		if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
			dep, err := c.deploys.Deployments(ns).Get(d.Name)
			if err == nil && dep.UID == d.UID {
				return dep.UID, replicasOf(dep.Spec.Replicas), nil
			}
		}
		return rs.UID, replicasOf(rs.Spec.Replicas), nil
	case "StatefulSet":
		s, err := c.sts.StatefulSets(ns).Get(ref.Name)
		if err != nil || s.UID != ref.UID {
			return "", 0, fmt.Errorf("statefulset %s/%s not found", ns, ref.Name)
		}
		return s.UID, replicasOf(s.Spec.Replicas), nil
	case "ReplicationController":
		rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return "", 0, fmt.Errorf("replicationcontroller %s/%s not found", ns, ref.Name)
		}
		return rc.UID, replicasOf(rc.Spec.Replicas), nil
	}
	return "", 0, fmt.Errorf("pods controlled by %s have no scale this controller knows", ref.Kind)
}

// pruneDisrupted keeps the disruptedPods entries whose pods still exist undeleted and are younger than the
// timeout, and says when to look again for the oldest of them.
func (c *Controller) pruneDisrupted(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, time.Duration) {
	if len(pdb.Status.DisruptedPods) == 0 {
		return nil, 0
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	out := map[string]metav1.Time{}
	var recheck time.Duration
	for name, at := range pdb.Status.DisruptedPods {
		p, ok := byName[name]
		if !ok || p.DeletionTimestamp != nil {
			continue
		}
		expires := at.Add(disruptedTimeout)
		if !expires.After(now) {
			continue
		}
		out[name] = at
		if d := expires.Sub(now); recheck == 0 || d < recheck {
			recheck = d
		}
	}
	if len(out) == 0 {
		return nil, 0
	}
	return out, recheck
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func setCondition(st *policyv1.PodDisruptionBudgetStatus, c metav1.Condition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type != c.Type {
			continue
		}
		if st.Conditions[i].Status == c.Status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

// writeFailed reports a budget whose expected pod count cannot be known: no disruptions allowed, condition
// DisruptionAllowed False with reason SyncFailed.
func (c *Controller) writeFailed(ctx context.Context, pdb *policyv1.PodDisruptionBudget, cause error) error {
	st := pdb.Status.DeepCopy()
	st.DisruptionsAllowed = 0
	st.ObservedGeneration = pdb.Generation
	setCondition(st, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason,
		Message: cause.Error(), ObservedGeneration: pdb.Generation, LastTransitionTime: metav1.NewTime(c.now())})
	if !apiequality.Semantic.DeepEqual(&pdb.Status, st) {
		pdb.Status = *st
		if _, err := c.client.PolicyV1().PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	// Failing is retried with back-off: the missing controller may simply not have reached the informer yet.
	return cause
}
