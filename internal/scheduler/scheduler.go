package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	schedcache "skiff/internal/scheduler/cache"
	"skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/profile"
	"skiff/internal/scheduler/queue"
)

// Scheduler is the scheduling loop with its cache, queue and profiles.
type Scheduler struct {
	client      kubernetes.Interface
	profiles    map[string]*profile.Profile
	queue       *queue.Queue
	cache       *schedcache.Cache
	snapshot    *schedcache.Snapshot
	broadcaster events.EventBroadcaster
	factory     informers.SharedInformerFactory
	now         func() time.Time
}

// Options configure New.
type Options struct {
	Client   kubernetes.Interface
	Profiles []profile.Config
	// Now is the clock (tests inject one).
	Now func() time.Time
}

// New builds a scheduler; Run starts it.
func New(opts Options) (*Scheduler, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Scheduler{client: opts.Client, profiles: map[string]*profile.Profile{}, cache: schedcache.New(),
		snapshot: schedcache.NewSnapshot(), now: opts.Now}
	s.broadcaster = events.NewBroadcaster(&events.EventSinkImpl{Interface: opts.Client.EventsV1()})
	s.factory = informers.NewSharedInformerFactory(opts.Client, 0)
	pluginEvents := map[string][]framework.ClusterEvent{}
	for _, pc := range opts.Profiles {
		pc.Client = opts.Client
		pc.Recorder = s.broadcaster.NewRecorder(scheme.Scheme, pc.SchedulerName)
		pc.Snapshot = s.snapshot
		pc.Informers = s.factory
		pc.Nominated = func(node string) []*corev1.Pod { return s.queue.NominatedPods(node) }
		p, err := profile.New(pc)
		if err != nil {
			return nil, err
		}
		if _, dup := s.profiles[p.Name()]; dup {
			return nil, fmt.Errorf("duplicate profile %q", p.Name())
		}
		s.profiles[p.Name()] = p
		for name, pl := range p.Plugins() {
			if ext, ok := pl.(framework.EnqueueExtensions); ok {
				pluginEvents[name] = ext.EventsToRegister()
			}
		}
	}
	s.queue = queue.New(opts.Now, pluginEvents)
	return s, nil
}

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	s.broadcaster.StartRecordingToSink(ctx.Done())
	defer s.broadcaster.Shutdown()
	podInf := s.factory.Core().V1().Pods().Informer()
	nodeInf := s.factory.Core().V1().Nodes().Informer()
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.onPod(nil, o) },
		UpdateFunc: func(old, o any) { s.onPod(old, o) },
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return err
	}
	if _, err := nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			s.cache.AddNode(o.(*corev1.Node))
			s.queue.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventNode, ActionType: framework.Add})
		},
		UpdateFunc: func(old, o any) {
			s.cache.UpdateNode(old.(*corev1.Node), o.(*corev1.Node))
			if act := nodeChange(old.(*corev1.Node), o.(*corev1.Node)); act != 0 {
				s.queue.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventNode, ActionType: act})
			}
		},
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if n, ok := o.(*corev1.Node); ok {
				s.cache.RemoveNode(n)
			}
		},
	}); err != nil {
		return err
	}
	s.factory.Start(ctx.Done())
	for typ, ok := range s.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer for %v did not sync: %w", typ, ctx.Err())
		}
	}
	go s.queue.Run(ctx)
	slog.Info("scheduler started", "profiles", len(s.profiles))
	for {
		qp := s.queue.Pop()
		if qp == nil {
			return nil
		}
		s.scheduleOne(ctx, qp)
	}
}

func (s *Scheduler) responsible(pod *corev1.Pod) bool {
	_, ok := s.profiles[pod.Spec.SchedulerName]
	return ok
}

func (s *Scheduler) onPod(oldObj, obj any) {
	pod := obj.(*corev1.Pod)
	var old *corev1.Pod
	if oldObj != nil {
		old = oldObj.(*corev1.Pod)
	}
	if pod.Spec.NodeName != "" {
		s.queue.Delete(pod)
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			s.cache.RemovePod(pod)
			s.queue.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventPod, ActionType: framework.Delete})
			return
		}
		s.cache.AddPod(pod)
		// A newly bound pod can satisfy another's pod affinity or spread constraint.
		switch {
		case old == nil || old.Spec.NodeName == "":
			s.queue.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventPod, ActionType: framework.Add})
		case !mapsEqual(old.Labels, pod.Labels):
			s.queue.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventPod, ActionType: framework.UpdatePodLabel})
		}
		return
	}
	if !s.responsible(pod) {
		return
	}
	if pod.DeletionTimestamp != nil {
		// Being deleted: never schedule it.
		s.queue.Delete(pod)
		return
	}
	switch {
	case old == nil:
		s.queue.Add(pod)
	case old.ResourceVersion == pod.ResourceVersion:
	case onlyStatusChanged(old, pod):
		s.queue.Refresh(pod)
	default:
		s.queue.Update(pod)
	}
}

// onlyStatusChanged ignores the scheduler's own condition updates, which must not retry the pod at once.
func onlyStatusChanged(old, pod *corev1.Pod) bool {
	a, b := old.DeepCopy(), pod.DeepCopy()
	a.Status, b.Status = corev1.PodStatus{}, corev1.PodStatus{}
	a.ResourceVersion, b.ResourceVersion = "", ""
	a.ManagedFields, b.ManagedFields = nil, nil
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return string(aj) == string(bj)
}

func (s *Scheduler) onPodDelete(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.queue.Delete(pod)
	// The object may be stale (a tombstone, or deleted just after our binding): the cache ignores unknown pods.
	s.cache.RemovePod(pod)
	s.queue.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventPod, ActionType: framework.Delete})
}

func nodeChange(old, n *corev1.Node) framework.ActionType {
	var act framework.ActionType
	if !equalLists(old.Status.Allocatable, n.Status.Allocatable) {
		act |= framework.UpdateNodeAllocatable
	}
	if !mapsEqual(old.Labels, n.Labels) {
		act |= framework.UpdateNodeLabel
	}
	if len(old.Spec.Taints) != len(n.Spec.Taints) || old.Spec.Unschedulable != n.Spec.Unschedulable || fmt.Sprint(old.Spec.Taints) != fmt.Sprint(n.Spec.Taints) {
		act |= framework.UpdateNodeTaint
	}
	// Heartbeats change condition timestamps every few seconds: only a status change counts.
	if conditionStatuses(old) != conditionStatuses(n) {
		act |= framework.UpdateNodeCondition
	}
	return act
}

func conditionStatuses(n *corev1.Node) string {
	var b strings.Builder
	for _, c := range n.Status.Conditions {
		b.WriteString(string(c.Type))
		b.WriteByte('=')
		b.WriteString(string(c.Status))
		b.WriteByte(';')
	}
	return b.String()
}

func equalLists(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// scheduleOne runs one scheduling cycle for a popped pod, and starts its binding.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queue.QueuedPodInfo) {
	pod := qp.Pod
	cycle := s.queue.SchedulingCycle()
	prof := s.profiles[pod.Spec.SchedulerName]
	if prof == nil || pod.DeletionTimestamp != nil || s.cache.IsAssumed(pod) {
		s.queue.Done(pod.UID)
		return
	}
	s.cache.UpdateSnapshot(s.snapshot)
	state := framework.NewCycleState()
	host, err := s.schedulePod(ctx, prof, state, pod)
	if err != nil {
		var fe *fitError
		if errors.As(err, &fe) {
			nominated, keep := s.preempt(ctx, prof, state, pod, fe)
			switch {
			case nominated != "":
				// Remember the nomination on our copy at once: the next attempt must see preemption in progress.
				p := pod.DeepCopy()
				p.Status.NominatedNodeName = nominated
				qp.PodInfo = framework.NewPodInfo(p)
				s.queue.Nominate(p, nominated)
			case !keep:
				s.queue.Nominate(pod, "")
			}
			qp.UnschedulablePlugins = fe.pluginSet()
			s.recordFailure(ctx, prof, pod, corev1.PodReasonUnschedulable, fe.Error(), nominated, !keep && pod.Status.NominatedNodeName != "")
			s.queue.AddUnschedulable(qp, cycle, false)
			return
		}
		s.recordFailure(ctx, prof, pod, corev1.PodReasonSchedulerError, err.Error(), "", false)
		s.queue.AddUnschedulable(qp, cycle, true)
		return
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = host
	if err := s.cache.AssumePod(assumed); err != nil {
		s.queue.AddUnschedulable(qp, cycle, true)
		return
	}
	// Once assumed, the pod counts on its node: its nomination would count it twice.
	s.queue.Nominate(assumed, "")
	s.queue.Done(pod.UID)
	go s.bind(ctx, prof, qp, assumed, host, cycle)
}

func (fe *fitError) pluginSet() sets.Set[string] {
	out := sets.New[string]()
	if fe.preFilter != nil && fe.preFilter.Plugin() != "" {
		out.Insert(fe.preFilter.Plugin())
	}
	for _, st := range fe.statuses {
		if st.Plugin() != "" {
			out.Insert(st.Plugin())
		}
	}
	return out
}

// schedulePod finds the best node for pod, or returns a *fitError.
func (s *Scheduler) schedulePod(ctx context.Context, prof *profile.Profile, state *framework.CycleState, pod *corev1.Pod) (string, error) {
	all := len(s.snapshot.List())
	if all == 0 {
		return "", &fitError{numAllNodes: 0, statuses: framework.NodeToStatus{}}
	}
	pre, st := prof.RunPreFilterPlugins(ctx, state, pod)
	if !st.IsSuccess() {
		if st.Code() == framework.Error {
			return "", st.AsError()
		}
		return "", &fitError{numAllNodes: all, preFilter: st}
	}
	feasible, rejected, err := prof.FindFeasible(ctx, state, pod, pre)
	if err != nil {
		return "", err
	}
	if len(feasible) == 0 {
		return "", &fitError{numAllNodes: all, statuses: rejected}
	}
	if len(feasible) == 1 {
		return feasible[0].NodeName(), nil
	}
	scores, err := prof.Score(ctx, state, pod, feasible)
	if err != nil {
		return "", err
	}
	return profile.SelectHost(scores), nil
}

// preempt runs PostFilter (preemption) and returns the nominated node, if any; keep says an earlier nomination
// still stands (preemption already in progress there).
func (s *Scheduler) preempt(ctx context.Context, prof *profile.Profile, state *framework.CycleState, pod *corev1.Pod, fe *fitError) (string, bool) {
	if fe.preFilter != nil || len(fe.statuses) == 0 {
		return "", false
	}
	res, st := prof.RunPostFilterPlugins(ctx, state, pod, fe.statuses)
	if st.IsSuccess() && res != nil {
		return res.NominatedNodeName, false
	}
	if msg := st.Message(); msg != "" && st.Plugin() != "" {
		fe.postFilter = "preemption: " + msg
	}
	return "", strings.Contains(st.Message(), "preemption is in progress")
}

func (s *Scheduler) bind(ctx context.Context, prof *profile.Profile, qp *queue.QueuedPodInfo, assumed *corev1.Pod, host string, cycle int64) {
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target: corev1.ObjectReference{Kind: "Node", Name: host}}
	err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err != nil {
		s.cache.ForgetPod(assumed)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Deleted meanwhile, or bound by someone else: nothing to retry.
			return
		}
		slog.Warn("binding failed", "pod", assumed.Namespace+"/"+assumed.Name, "node", host, "err", err)
		s.recordFailure(ctx, prof, qp.Pod, corev1.PodReasonSchedulerError, fmt.Sprintf("Binding rejected: %v", err), "", false)
		s.queue.AddUnschedulable(qp, cycle, true)
		return
	}
	prof.EventRecorder().Eventf(assumed, nil, corev1.EventTypeNormal, "Scheduled", "Binding",
		"Successfully assigned %s/%s to %s", assumed.Namespace, assumed.Name, host)
}

// recordFailure sets PodScheduled=False with the reason (and the nominated node, after preemption) and emits
// a FailedScheduling event.
func (s *Scheduler) recordFailure(ctx context.Context, prof *profile.Profile, pod *corev1.Pod, reason, msg, nominated string, clearNomination bool) {
	prof.EventRecorder().Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", msg)
	cond := map[string]any{"type": corev1.PodScheduled, "status": corev1.ConditionFalse, "reason": reason, "message": msg,
		"lastTransitionTime": metav1.NewTime(s.now()).Rfc3339Copy()}
	status := map[string]any{"conditions": []any{cond}}
	if nominated != "" {
		status["nominatedNodeName"] = nominated
	} else if clearNomination {
		status["nominatedNodeName"] = nil
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == reason && c.Message == msg && nominated == pod.Status.NominatedNodeName && !clearNomination {
			return // nothing new to say
		}
	}
	patch, _ := json.Marshal(map[string]any{"status": status})
	if _, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil && !apierrors.IsNotFound(err) {
		slog.Warn("updating pod condition failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}
