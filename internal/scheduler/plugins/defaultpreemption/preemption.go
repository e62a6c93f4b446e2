// Package defaultpreemption is the DefaultPreemption PostFilter plugin: when no node fits a pod, it looks for
// the node where evicting the fewest, least important lower-priority pods would make room, evicts them and
// nominates the node for the pod.
package defaultpreemption

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name.
const Name = "DefaultPreemption"

// Plugin implements preemption.
type Plugin struct {
	h framework.Handle
	// maxCandidates bounds how many nodes are dry-run, as upstream's minCandidateNodesAbsolute.
	maxCandidates int
}

var _ framework.PostFilterPlugin = (*Plugin)(nil)

// New makes the plugin. Args may set minCandidateNodesAbsolute; the percentage is not used.
func New(args runtime.Object, h framework.Handle) (framework.Plugin, error) {
	p := &Plugin{h: h, maxCandidates: 100}
	if a, ok := args.(*configv1.DefaultPreemptionArgs); ok && a != nil && a.MinCandidateNodesAbsolute != nil {
		if *a.MinCandidateNodesAbsolute <= 0 {
			return nil, fmt.Errorf("minCandidateNodesAbsolute must be positive")
		}
		p.maxCandidates = int(*a.MinCandidateNodesAbsolute)
	}
	return p, nil
}

// Name implements framework.Plugin.
func (p *Plugin) Name() string { return Name }

func priority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

type candidate struct {
	node       string
	victims    []*corev1.Pod
	violations int
}

// PostFilter implements framework.PostFilterPlugin.
func (p *Plugin) PostFilter(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, filtered framework.NodeToStatus) (*framework.PostFilterResult, *framework.Status) {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return nil, framework.NewStatus(framework.Unschedulable, "not eligible due to preemptionPolicy=Never.")
	}
	nodes := p.h.SnapshotSharedLister().NodeInfos()
	if nn := pod.Status.NominatedNodeName; nn != "" {
		// Already preempted for: wait while victims on the nominated node are still terminating.
		if ni, err := nodes.Get(nn); err == nil {
			for _, pi := range ni.Pods {
				if pi.Pod.DeletionTimestamp != nil && priority(pi.Pod) < priority(pod) {
					return nil, framework.NewStatus(framework.Unschedulable, "preemption is in progress on the nominated node")
				}
			}
		}
	}
	pdbs, err := p.pdbs(ctx)
	if err != nil {
		return nil, framework.AsStatus(err)
	}
	var cands []candidate
	notHelpful := 0
	for _, ni := range nodes.List() {
		st, rejected := filtered[ni.NodeName()]
		if !rejected || st.Code() != framework.Unschedulable {
			notHelpful++ // preemption cannot help where the node is rejected for good
			continue
		}
		if c, ok := p.selectVictims(ctx, state, pod, ni, pdbs); ok {
			cands = append(cands, c)
			if len(cands) >= p.maxCandidates {
				break
			}
		}
	}
	if len(cands) == 0 {
		all := len(nodes.List())
		var parts []string
		if notHelpful > 0 {
			parts = append(parts, fmt.Sprintf("%d Preemption is not helpful for scheduling", notHelpful))
		}
		if all-notHelpful > 0 {
			parts = append(parts, fmt.Sprintf("%d No preemption victims found for incoming pod", all-notHelpful))
		}
		return nil, framework.NewStatus(framework.Unschedulable, fmt.Sprintf("0/%d nodes are available: %s.", all, strings.Join(parts, ", ")))
	}
	best := pickBest(cands)
	if err := p.evict(ctx, pod, best); err != nil {
		return nil, framework.AsStatus(err)
	}
	return &framework.PostFilterResult{NominatedNodeName: best.node}, nil
}

// selectVictims removes every lower-priority pod from a copy of the node; if the pod then fits, it gives back
// as many of them as it can, most important first (PDB-protected ones before the others), and returns the rest.
func (p *Plugin) selectVictims(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, ni *framework.NodeInfo, pdbs []*policyv1.PodDisruptionBudget) (candidate, bool) {
	ni = ni.Clone()
	st := state.Clone()
	var lower []*framework.PodInfo
	for _, pi := range ni.Pods {
		if priority(pi.Pod) < priority(pod) {
			lower = append(lower, pi)
		}
	}
	if len(lower) == 0 {
		return candidate{}, false
	}
	for _, pi := range lower {
		if err := ni.RemovePod(pi.Pod); err != nil {
			return candidate{}, false
		}
		if s := p.h.RunPreFilterExtensionRemovePod(ctx, st, pod, pi, ni); !s.IsSuccess() {
			return candidate{}, false
		}
	}
	if s := p.h.RunFilterPlugins(ctx, st, pod, ni); !s.IsSuccess() {
		return candidate{}, false
	}
	// Most important first: higher priority, then started earlier.
	sort.SliceStable(lower, func(i, j int) bool {
		pi, pj := priority(lower[i].Pod), priority(lower[j].Pod)
		if pi != pj {
			return pi > pj
		}
		return startTime(lower[i].Pod).Before(startTime(lower[j].Pod))
	})
	violating, ok := splitByPDB(lower, pdbs)
	var c candidate
	c.node = ni.NodeName()
	reprieve := func(pi *framework.PodInfo, violates bool) {
		ni.AddPod(pi)
		_ = p.h.RunPreFilterExtensionAddPod(ctx, st, pod, pi, ni)
		if s := p.h.RunFilterPlugins(ctx, st, pod, ni); !s.IsSuccess() {
			_ = ni.RemovePod(pi.Pod)
			_ = p.h.RunPreFilterExtensionRemovePod(ctx, st, pod, pi, ni)
			c.victims = append(c.victims, pi.Pod)
			if violates {
				c.violations++
			}
		}
	}
	for _, pi := range violating {
		reprieve(pi, true)
	}
	for _, pi := range ok {
		reprieve(pi, false)
	}
	return c, len(c.victims) > 0
}

func startTime(pod *corev1.Pod) time.Time {
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return pod.CreationTimestamp.Time
}

// splitByPDB separates pods whose eviction would violate a PodDisruptionBudget (no disruptions allowed left).
func splitByPDB(pods []*framework.PodInfo, pdbs []*policyv1.PodDisruptionBudget) (violating, ok []*framework.PodInfo) {
	allowed := make([]int32, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
	}
	for _, pi := range pods {
		v := false
		for i, pdb := range pdbs {
			if pdb.Namespace != pi.Pod.Namespace {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(pi.Pod.Labels)) {
				continue
			}
			allowed[i]--
			if allowed[i] < 0 {
				v = true
			}
		}
		if v {
			violating = append(violating, pi)
		} else {
			ok = append(ok, pi)
		}
	}
	return violating, ok
}

// pickBest chooses, as upstream: fewest PDB violations, then the lowest highest-victim priority, then the
// smallest sum of victim priorities, then the fewest victims.
func pickBest(cands []candidate) candidate {
	return slices.MinFunc(cands, func(a, b candidate) int {
		if a.violations != b.violations {
			return a.violations - b.violations
		}
		if c := cmp.Compare(highest(a.victims), highest(b.victims)); c != 0 {
			return c
		}
		sa, sb := sum(a.victims), sum(b.victims)
		if sa != sb {
			if sa < sb {
				return -1
			}
			return 1
		}
		return len(a.victims) - len(b.victims)
	})
}

func highest(pods []*corev1.Pod) int32 {
	h := int32(-1 << 31)
	for _, p := range pods {
		h = max(h, priority(p))
	}
	return h
}

func sum(pods []*corev1.Pod) int64 {
	var s int64
	for _, p := range pods {
		// Offset so negative priorities still count as "more" victims.
		s += int64(priority(p)) + 1<<31
	}
	return s
}

func (p *Plugin) pdbs(ctx context.Context) ([]*policyv1.PodDisruptionBudget, error) {
	list, err := p.h.ClientSet().PolicyV1().PodDisruptionBudgets("").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	out := make([]*policyv1.PodDisruptionBudget, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// evict marks the victims with a DisruptionTarget condition, deletes them, and records why.
func (p *Plugin) evict(ctx context.Context, pod *corev1.Pod, c candidate) error {
	pods := p.h.ClientSet().CoreV1()
	for _, v := range c.victims {
		if rec := p.h.EventRecorder(); rec != nil {
			rec.Eventf(v, pod, corev1.EventTypeNormal, "Preempted", "Preempting",
				"Preempted by pod %s on node %s", pod.UID, c.node)
		}
		v2 := v.DeepCopy()
		v2.Status.Conditions = append(v2.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "PreemptionByScheduler", Message: fmt.Sprintf("%s: preempting to accommodate a higher priority pod", pod.Spec.SchedulerName),
			LastTransitionTime: metav1.Now()})
		if _, err := pods.Pods(v.Namespace).UpdateStatus(ctx, v2, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		if err := pods.Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &v.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
