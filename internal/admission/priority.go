package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// System priority classes, as upstream creates them.
const (
	SystemClusterCritical = "system-cluster-critical"
	SystemNodeCritical    = "system-node-critical"
	// systemCriticalPriority is the floor of the reserved system range.
	systemCriticalPriority = 2000000000
)

// SystemPriorityClasses are created at start-up.
var SystemPriorityClasses = []schedulingv1.PriorityClass{
	{Value: systemCriticalPriority + 1000, Description: "Used for system critical pods that must not be moved from their current node."},
	{Value: systemCriticalPriority, Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
}

func init() {
	SystemPriorityClasses[0].Name = SystemNodeCritical
	SystemPriorityClasses[1].Name = SystemClusterCritical
}

// PriorityClassLister returns every PriorityClass.
type PriorityClassLister func(ctx context.Context) ([]runtime.Object, error)

// Priority resolves a pod's priorityClassName into spec.priority and spec.preemptionPolicy, as upstream's
// Priority admission plugin: the named class, else the global default class, else 0. A pod may not set
// spec.priority itself to anything else.
type Priority struct {
	List PriorityClassLister
}

var podsResource = schema.GroupResource{Resource: "pods"}

// Admit implements Mutator.
func (p Priority) Admit(ctx context.Context, a *Attributes) error {
	if a.Operation != Create || a.Resource.Group != "" || a.Resource.Resource != "pods" || a.Subresource != "" {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	objs, err := p.List(ctx)
	if err != nil {
		return err
	}
	var class *schedulingv1.PriorityClass
	for _, o := range objs {
		pc := o.(*schedulingv1.PriorityClass)
		if pod.Spec.PriorityClassName != "" && pc.Name == pod.Spec.PriorityClassName {
			class = pc
		}
		if pod.Spec.PriorityClassName == "" && pc.GlobalDefault && (class == nil || pc.Value < class.Value) {
			class = pc
		}
	}
	var value int32
	policy := corev1.PreemptLowerPriority
	switch {
	case class != nil:
		value = class.Value
		pod.Spec.PriorityClassName = class.Name
		if class.PreemptionPolicy != nil {
			policy = *class.PreemptionPolicy
		}
	case pod.Spec.PriorityClassName != "":
		return apierrors.NewForbidden(podsResource, a.Name, fmt.Errorf("no PriorityClass with name %s was found", pod.Spec.PriorityClassName))
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return apierrors.NewForbidden(podsResource, a.Name, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
	}
	pod.Spec.Priority = &value
	if pod.Spec.PreemptionPolicy == nil || class != nil {
		pod.Spec.PreemptionPolicy = &policy
	}
	return nil
}
