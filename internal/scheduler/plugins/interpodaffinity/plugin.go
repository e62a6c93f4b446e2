// Package interpodaffinity implements the InterPodAffinity plugin: required pod affinity and anti-affinity
// of the incoming pod and required anti-affinity of existing pods (Filter), and preferred terms of both
// plus existing pods' required affinity (Score). Behaviour, failure reasons and scores follow upstream
// kube-scheduler's plugin of the same name.
//
// Namespace selectors: upstream resolves a term's namespaceSelector with a Namespace lister. The
// framework.Handle gives none; when the handle implements NamespaceListerHandle the plugin behaves exactly
// as upstream. Otherwise an empty namespaceSelector ({}) still means "all namespaces", and a non-empty one
// selects no namespace: such a term covers only the namespaces it names in .namespaces.
package interpodaffinity

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "InterPodAffinity"

// Failure reasons, as upstream prints them in FailedScheduling events.
const (
	ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
	ErrReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	ErrReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
)

// DefaultHardPodAffinityWeight is upstream's default for args.hardPodAffinityWeight.
const DefaultHardPodAffinityWeight int32 = 1

// InformerFactoryHandle is optionally implemented by a framework.Handle (upstream's Handle has this
// method); the plugin then reads namespaces through it to resolve namespaceSelectors.
type InformerFactoryHandle interface {
	SharedInformerFactory() informers.SharedInformerFactory
}

// NamespaceListerHandle is a narrower alternative to InformerFactoryHandle.
type NamespaceListerHandle interface {
	NamespaceLister() corelisters.NamespaceLister
}

// InterPodAffinity is the plugin.
type InterPodAffinity struct {
	handle                             framework.Handle
	hardPodAffinityWeight              int32
	ignorePreferredTermsOfExistingPods bool
	// nsLister is nil when the handle offers none (see the package comment).
	nsLister corelisters.NamespaceLister
	// terms caches the parsed affinity terms of existing pods.
	terms *termCache
}

var (
	_ framework.Plugin                  = &InterPodAffinity{}
	_ framework.PreFilterPlugin         = &InterPodAffinity{}
	_ framework.PreFilterWithExtensions = &InterPodAffinity{}
	_ framework.PreFilterExtensions     = &InterPodAffinity{}
	_ framework.FilterPlugin            = &InterPodAffinity{}
	_ framework.PreScorePlugin          = &InterPodAffinity{}
	_ framework.ScorePlugin             = &InterPodAffinity{}
	_ framework.ScoreExtensions         = &InterPodAffinity{}
	_ framework.EnqueueExtensions       = &InterPodAffinity{}
	_ framework.Factory                 = New
)

// Name implements framework.Plugin.
func (pl *InterPodAffinity) Name() string { return Name }

// New builds the plugin. args is nil (upstream defaults: hardPodAffinityWeight 1) or a
// *configv1.InterPodAffinityArgs (a nil hardPodAffinityWeight means 1, as v1 defaulting does).
func New(args runtime.Object, h framework.Handle) (framework.Plugin, error) {
	if h == nil || h.SnapshotSharedLister() == nil {
		return nil, fmt.Errorf("%s: the handle has no snapshot lister", Name)
	}
	pl := &InterPodAffinity{handle: h, hardPodAffinityWeight: DefaultHardPodAffinityWeight}
	switch a := args.(type) {
	case nil:
	case *configv1.InterPodAffinityArgs:
		if a != nil {
			if a.HardPodAffinityWeight != nil {
				pl.hardPodAffinityWeight = *a.HardPodAffinityWeight
			}
			pl.ignorePreferredTermsOfExistingPods = a.IgnorePreferredTermsOfExistingPods
		}
	default:
		return nil, fmt.Errorf("want args to be of type InterPodAffinityArgs, got %T", args)
	}
	if w := pl.hardPodAffinityWeight; w < 0 || w > 100 {
		return nil, fmt.Errorf("hardPodAffinityWeight: Invalid value: %d: not in valid range [0-100]", w)
	}
	switch hh := h.(type) {
	case NamespaceListerHandle:
		pl.nsLister = hh.NamespaceLister()
	case InformerFactoryHandle:
		if f := hh.SharedInformerFactory(); f != nil {
			pl.nsLister = f.Core().V1().Namespaces().Lister()
		}
	}
	pl.terms = newTermCache(pl.nsLister != nil)
	return pl, nil
}

// EventsToRegister implements framework.EnqueueExtensions: assigned pods appearing, leaving or changing
// labels, and nodes appearing or changing labels (or taints, standing in for a node becoming ready).
func (pl *InterPodAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.EventPod, ActionType: framework.Add | framework.UpdatePodLabel | framework.Delete},
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeLabel | framework.UpdateNodeTaint},
	}
}
