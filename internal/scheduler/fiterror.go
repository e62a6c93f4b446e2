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
	var reasons map[string]int
	if e.preFilter != nil {
		reasons = map[string]int{}
		for _, r := range e.preFilter.Reasons() {
			reasons[r] += e.numAllNodes
		}
	} else {
		reasons = map[string]int{}
		for _, st := range e.statuses {
			for _, r := range st.Reasons() {
				reasons[r]++
			}
		}
	}
	parts := make([]string, 0, len(reasons))
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	msg := fmt.Sprintf("0/%d nodes are available", e.numAllNodes)
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ", ")
	}
	msg += "."
	if e.postFilter != "" {
		msg += " " + e.postFilter
	}
	return msg
}
