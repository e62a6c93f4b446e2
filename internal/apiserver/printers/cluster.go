package printers

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
)

// Small cluster-infrastructure kinds: Lease, PriorityClass, RuntimeClass.

func init() {
	register(leaseColumns, func(l *coordinationv1.Lease, now time.Time) []any {
		return []any{l.Name, stringOr(l.Spec.HolderIdentity, ""), age(l.CreationTimestamp, now)}
	})
	register(priorityClassColumns, func(pc *schedulingv1.PriorityClass, now time.Time) []any {
		preemption := ""
		if pc.PreemptionPolicy != nil {
			preemption = string(*pc.PreemptionPolicy)
		}
		return []any{pc.Name, int64(pc.Value), pc.GlobalDefault, age(pc.CreationTimestamp, now), preemption}
	})
	register(runtimeClassColumns, func(rc *nodev1.RuntimeClass, now time.Time) []any {
		return []any{rc.Name, rc.Handler, age(rc.CreationTimestamp, now)}
	})
}

var leaseColumns = cols(
	nameColumn(),
	column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
	ageColumn(),
)

// PreemptionPolicy is a default column upstream even though it comes after
// AGE.
var priorityClassColumns = cols(
	nameColumn(),
	column("Value", "integer", schedulingv1.PriorityClass{}.SwaggerDoc()["value"]),
	column("Global-Default", "boolean", schedulingv1.PriorityClass{}.SwaggerDoc()["globalDefault"]),
	ageColumn(),
	column("PreemptionPolicy", "string", schedulingv1.PriorityClass{}.SwaggerDoc()["preemptionPolicy"]),
)

// Upstream looks the handler description up in ObjectMeta's docs, where it
// does not exist, so the description is empty.
var runtimeClassColumns = cols(
	nameColumn(),
	column("Handler", "string", objectMetaDoc["handler"]),
	ageColumn(),
)
