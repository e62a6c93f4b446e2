package printers

import (
	"time"

	policyv1 "k8s.io/api/policy/v1"
)

// policy/v1 PodDisruptionBudget.

func init() {
	register(podDisruptionBudgetColumns, func(pdb *policyv1.PodDisruptionBudget, now time.Time) []any {
		// Exactly one of the two is set; the other shows N/A.
		minAvailable, maxUnavailable := "N/A", "N/A"
		if pdb.Spec.MinAvailable != nil {
			minAvailable = pdb.Spec.MinAvailable.String()
		}
		if pdb.Spec.MaxUnavailable != nil {
			maxUnavailable = pdb.Spec.MaxUnavailable.String()
		}
		return []any{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), age(pdb.CreationTimestamp, now)}
	})
}

var podDisruptionBudgetColumns = cols(
	nameColumn(),
	column("Min Available", "string", "The minimum number of pods that must be available."),
	column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
	column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
	ageColumn(),
)
