package printers

import (
	"strings"
	"time"

	resourcev1 "k8s.io/api/resource/v1"
)

// resource.k8s.io/v1 (dynamic resource allocation).

func init() {
	register(nameAgeColumns, func(c *resourcev1.DeviceClass, now time.Time) []any {
		return []any{c.Name, age(c.CreationTimestamp, now)}
	})
	register(resourceClaimColumns, func(c *resourcev1.ResourceClaim, now time.Time) []any {
		return []any{c.Name, resourceClaimState(c), age(c.CreationTimestamp, now)}
	})
	register(nameAgeColumns, func(t *resourcev1.ResourceClaimTemplate, now time.Time) []any {
		return []any{t.Name, age(t.CreationTimestamp, now)}
	})
	register(resourceSliceColumns, func(s *resourcev1.ResourceSlice, now time.Time) []any {
		return []any{s.Name, stringOr(s.Spec.NodeName, ""), s.Spec.Driver, s.Spec.Pool.Name, age(s.CreationTimestamp, now)}
	})
}

var nameAgeColumns = cols(nameColumn(), ageColumn())

var resourceClaimColumns = cols(
	nameColumn(),
	column("State", "string", "A summary of the current state (allocated, pending, reserved, etc.)."),
	ageColumn(),
)

var resourceSliceColumns = cols(
	nameColumn(),
	column("Node", "string", resourcev1.ResourceSliceSpec{}.SwaggerDoc()["nodeName"]),
	column("Driver", "string", resourcev1.ResourceSliceSpec{}.SwaggerDoc()["driver"]),
	column("Pool", "string", resourcev1.ResourcePool{}.SwaggerDoc()["name"]),
	ageColumn(),
)

// resourceClaimState summarises a claim as e.g. "allocated,reserved" or
// "deleted,allocated"; an unallocated claim is "pending" until deleted.
func resourceClaimState(c *resourcev1.ResourceClaim) string {
	var states []string
	if c.DeletionTimestamp != nil {
		states = append(states, "deleted")
	}
	switch {
	case c.Status.Allocation != nil:
		states = append(states, "allocated")
		if len(c.Status.ReservedFor) > 0 {
			states = append(states, "reserved")
		}
	case c.DeletionTimestamp == nil:
		states = append(states, "pending")
	}
	return strings.Join(states, ",")
}
