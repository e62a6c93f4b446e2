// Package podtopologyspread implements the PodTopologySpread plugin: a pod's topologySpreadConstraints
// (or cluster default constraints) decide which nodes it may go to (whenUnsatisfiable: DoNotSchedule, at
// Filter) and which it prefers (ScheduleAnyway, at Score). Behaviour, failure reasons and score formulas
// follow upstream kube-scheduler's plugin of the same name.
package podtopologyspread

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "PodTopologySpread"

// Failure reasons, as upstream prints them in FailedScheduling events.
const (
	ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints"
	ErrReasonNodeLabelNotMatch   = ErrReasonConstraintsNotMatch + " (missing required label)"
)

// systemDefaultConstraints are upstream's cluster defaults for pods that declare no constraints and belong
// to a Service, ReplicationController, ReplicaSet or StatefulSet.
var systemDefaultConstraints = []corev1.TopologySpreadConstraint{
	{TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 3},
	{TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 5},
}

// InformerFactoryHandle is optionally implemented by a framework.Handle (upstream's Handle has this method).
// framework.Handle does not carry it today; when the handle offers it, default constraints get their
// selector from the Services, ReplicationControllers, ReplicaSets and StatefulSets selecting the pod, exactly
// as upstream does.
type InformerFactoryHandle interface {
	SharedInformerFactory() informers.SharedInformerFactory
}

// workloadListers are what upstream reads to deduce a default constraint's selector.
type workloadListers struct {
	services     corelisters.ServiceLister
	rcs          corelisters.ReplicationControllerLister
	replicaSets  appslisters.ReplicaSetLister
	statefulSets appslisters.StatefulSetLister
}

// PodTopologySpread is the plugin.
type PodTopologySpread struct {
	handle framework.Handle
	// defaultConstraints apply to pods without spec.topologySpreadConstraints.
	defaultConstraints []corev1.TopologySpreadConstraint
	// systemDefaulted is true for defaultingType System; scoring then tolerates nodes missing some
	// topology label (so nodes without a zone still get hostname spreading), as upstream.
	systemDefaulted bool
	// listers is nil when the handle offers no informer factory (see buildDefaultConstraints).
	listers *workloadListers
}

var (
	_ framework.Plugin                  = &PodTopologySpread{}
	_ framework.PreFilterPlugin         = &PodTopologySpread{}
	_ framework.PreFilterWithExtensions = &PodTopologySpread{}
	_ framework.PreFilterExtensions     = &PodTopologySpread{}
	_ framework.FilterPlugin            = &PodTopologySpread{}
	_ framework.PreScorePlugin          = &PodTopologySpread{}
	_ framework.ScorePlugin             = &PodTopologySpread{}
	_ framework.ScoreExtensions         = &PodTopologySpread{}
	_ framework.EnqueueExtensions       = &PodTopologySpread{}
	_ framework.Factory                 = New
)

// Name implements framework.Plugin.
func (pl *PodTopologySpread) Name() string { return Name }

// New builds the plugin. args is nil (upstream defaults: defaultingType System) or a
// *configv1.PodTopologySpreadArgs (an empty defaultingType means System, as v1 defaulting does).
//
// Default constraints and the handle: upstream deduces a default constraint's label selector from the
// Services, ReplicationControllers, ReplicaSets and StatefulSets that select the pod, through informer
// listers. framework.Handle gives no informer factory, so:
//   - if the handle implements InformerFactoryHandle, both System and List defaulting work as upstream;
//   - otherwise System defaulting applies NO default constraints (pods without constraints are not spread),
//     and List defaulting (explicit args.DefaultConstraints) derives the selector from the pod itself: a pod
//     controlled by a ReplicaSet, ReplicationController or StatefulSet is spread among pods carrying the
//     same labels (minus the per-pod StatefulSet labels and controller-revision-hash); other pods get no
//     default constraints. Services are not considered in that fallback.
func New(args runtime.Object, h framework.Handle) (framework.Plugin, error) {
	if h == nil || h.SnapshotSharedLister() == nil {
		return nil, fmt.Errorf("%s: the handle has no snapshot lister", Name)
	}
	a, err := getArgs(args)
	if err != nil {
		return nil, err
	}
	if err := validateArgs(&a); err != nil {
		return nil, err
	}
	pl := &PodTopologySpread{handle: h}
	if ih, ok := h.(InformerFactoryHandle); ok {
		if f := ih.SharedInformerFactory(); f != nil {
			pl.listers = &workloadListers{
				services:     f.Core().V1().Services().Lister(),
				rcs:          f.Core().V1().ReplicationControllers().Lister(),
				replicaSets:  f.Apps().V1().ReplicaSets().Lister(),
				statefulSets: f.Apps().V1().StatefulSets().Lister(),
			}
		}
	}
	switch a.DefaultingType {
	case configv1.SystemDefaulting:
		pl.systemDefaulted = true
		// Without the workload listers the system defaults cannot find the pod's workload selector; upstream
		// would then apply nothing to such a pod either, so none is applied (see the doc comment above).
		if pl.listers != nil {
			pl.defaultConstraints = systemDefaultConstraints
		}
	case configv1.ListDefaulting:
		pl.defaultConstraints = a.DefaultConstraints
	}
	return pl, nil
}

func getArgs(obj runtime.Object) (configv1.PodTopologySpreadArgs, error) {
	var a configv1.PodTopologySpreadArgs
	switch v := obj.(type) {
	case nil:
	case *configv1.PodTopologySpreadArgs:
		if v != nil {
			a = *v
		}
	default:
		return a, fmt.Errorf("want args to be of type PodTopologySpreadArgs, got %T", obj)
	}
	// v1 defaulting.
	if a.DefaultingType == "" {
		a.DefaultingType = configv1.SystemDefaulting
	}
	return a, nil
}

// validateArgs mirrors upstream's validation of PodTopologySpreadArgs.
func validateArgs(a *configv1.PodTopologySpreadArgs) error {
	switch a.DefaultingType {
	case configv1.SystemDefaulting:
		if len(a.DefaultConstraints) != 0 {
			return fmt.Errorf("defaultConstraints: when .defaultingType is %q, .defaultConstraints must be empty", configv1.SystemDefaulting)
		}
	case configv1.ListDefaulting:
	default:
		return fmt.Errorf("defaultingType: unsupported value %q: supported values: %q, %q", a.DefaultingType, configv1.SystemDefaulting, configv1.ListDefaulting)
	}
	seen := map[[2]string]bool{}
	for i, c := range a.DefaultConstraints {
		if c.MaxSkew <= 0 {
			return fmt.Errorf("defaultConstraints[%d].maxSkew: must be greater than zero", i)
		}
		if c.TopologyKey == "" {
			return fmt.Errorf("defaultConstraints[%d].topologyKey: can not be empty", i)
		}
		if c.WhenUnsatisfiable != corev1.DoNotSchedule && c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			return fmt.Errorf("defaultConstraints[%d].whenUnsatisfiable: unsupported value %q", i, c.WhenUnsatisfiable)
		}
		k := [2]string{c.TopologyKey, string(c.WhenUnsatisfiable)}
		if seen[k] {
			return fmt.Errorf("defaultConstraints[%d]: duplicate {topologyKey %q, whenUnsatisfiable %q}", i, c.TopologyKey, c.WhenUnsatisfiable)
		}
		seen[k] = true
		if c.LabelSelector != nil {
			return fmt.Errorf("defaultConstraints[%d].labelSelector: constraint must not define a selector, as they are deduced for each pod", i)
		}
		if c.MinDomains != nil && (*c.MinDomains <= 0 || c.WhenUnsatisfiable != corev1.DoNotSchedule) {
			return fmt.Errorf("defaultConstraints[%d].minDomains: must be greater than 0 and only set with whenUnsatisfiable DoNotSchedule", i)
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions: assigned pods appearing, leaving or changing
// labels change the counts; nodes appearing, leaving or changing labels/taints change the domains.
func (pl *PodTopologySpread) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventPod, ActionType: framework.Add | framework.UpdatePodLabel | framework.Delete},
		{Resource: framework.EventNode, ActionType: framework.Add | framework.Delete | framework.UpdateNodeLabel | framework.UpdateNodeTaint},
	}
}
