// Package plugins lists the scheduler plugins built into skiff; each lives in its own package below.
package plugins

import (
	"skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/plugins/defaultpreemption"
	"skiff/internal/scheduler/plugins/imagelocality"
	"skiff/internal/scheduler/plugins/interpodaffinity"
	"skiff/internal/scheduler/plugins/nodeaffinity"
	"skiff/internal/scheduler/plugins/nodename"
	"skiff/internal/scheduler/plugins/nodeports"
	"skiff/internal/scheduler/plugins/noderesources"
	"skiff/internal/scheduler/plugins/nodeunschedulable"
	"skiff/internal/scheduler/plugins/podtopologyspread"
	"skiff/internal/scheduler/plugins/tainttoleration"
)

// Registry maps plugin names (upstream's) to their constructors.
func Registry() map[string]framework.Factory {
	return map[string]framework.Factory{
		nodeunschedulable.Name:               nodeunschedulable.New,
		nodename.Name:                        nodename.New,
		tainttoleration.Name:                 tainttoleration.New,
		nodeaffinity.Name:                    nodeaffinity.New,
		nodeports.Name:                       nodeports.New,
		noderesources.FitName:                noderesources.NewFit,
		noderesources.BalancedAllocationName: noderesources.NewBalancedAllocation,
		imagelocality.Name:                   imagelocality.New,
		podtopologyspread.Name:               podtopologyspread.New,
		interpodaffinity.Name:                interpodaffinity.New,
		defaultpreemption.Name:               defaultpreemption.New,
	}
}
