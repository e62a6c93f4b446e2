package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"skiff/internal/scheduler/framework"
)

// fitError explains why no node fits, in upstream's words:
// "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {k: v}."
type fitError struct {
	numAllNodes int
	statuses    framework.NodeToStatus
	preFilter   *framework.Status
	postFilter  string
	plugins     map[string]bool
}

func (e *fitError) Error() string {
	if e.numAllNodes == 0 {
		return "no nodes available to schedule pods"
	}
	msg := fmt.Sprintf("0/%d nodes are available: ", e.numAllNodes)
	if e.preFilter != nil {
		// A PreFilter rejection applies to every node: upstream states it once, without a count.
		msg += e.preFilter.Message() + "."
	} else {
		reasons := map[string]int{}
		for _, st := range e.statuses {
			for _, r := range st.Reasons() {
				reasons[r]++
			}
		}
		parts := make([]string, 0, len(reasons))
		for r, n := range reasons {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(parts)
		msg += strings.Join(parts, ", ") + "."
	}
	if e.postFilter != "" {
		msg += " " + e.postFilter + "."
	}
	return msg
}
