package noderesources

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// nodeInfo builds a NodeInfo for node with the given pods on it.
func nodeInfo(node *corev1.Node, pods ...*corev1.Pod) *framework.NodeInfo {
	ni := framework.NewNodeInfo(pods...)
	ni.SetNode(node)
	return ni
}

func newFit(t testing.TB, args *configv1.NodeResourcesFitArgs) *Fit {
	t.Helper()
	var obj runtime.Object // a nil *NodeResourcesFitArgs stays a nil interface: defaults
	if args != nil {
		obj = args
	}
	p, err := NewFit(obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Fit)
}

func sidecar(p *corev1.Pod, r map[string]string) *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "sidecar", RestartPolicy: &always,
		Resources: corev1.ResourceRequirements{Requests: st.ResourceList(r)}})
	return p
}

func TestFitFilter(t *testing.T) {
	node := st.MakeNode().Name("n").Capacity(map[string]string{"cpu": "4", "memory": "8Gi", "ephemeral-storage": "10Gi", "example.com/gpu": "2", "hugepages-2Mi": "1Gi"}).Obj()
	used := st.MakePod().Name("used").Req(map[string]string{"cpu": "3", "memory": "6Gi", "ephemeral-storage": "5Gi", "example.com/gpu": "1"}).Obj()
	tests := []struct {
		name        string
		args        *configv1.NodeResourcesFitArgs
		pod         *corev1.Pod
		node        *corev1.Node
		existing    []*corev1.Pod
		wantCode    framework.Code
		wantReasons []string
	}{
		{name: "fits on an empty node", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "4", "memory": "8Gi"}).Obj()},
		{name: "fits next to another pod", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "1", "memory": "2Gi"}).Obj(), existing: []*corev1.Pod{used}},
		{name: "insufficient cpu", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "1500m"}).Obj(), existing: []*corev1.Pod{used},
			wantCode: framework.Unschedulable, wantReasons: []string{"Insufficient cpu"}},
		{name: "insufficient cpu and memory", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "2", "memory": "3Gi"}).Obj(), existing: []*corev1.Pod{used},
			wantCode: framework.Unschedulable, wantReasons: []string{"Insufficient cpu", "Insufficient memory"}},
		{name: "more than the node has is unresolvable", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "5", "memory": "1Gi"}).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantReasons: []string{"Insufficient cpu"}},
		{name: "one unresolvable resource makes the whole status unresolvable", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "2", "memory": "9Gi"}).Obj(), existing: []*corev1.Pod{used},
			wantCode: framework.UnschedulableAndUnresolvable, wantReasons: []string{"Insufficient cpu", "Insufficient memory"}},
		{name: "insufficient ephemeral-storage", pod: st.MakePod().Name("p").Req(map[string]string{"ephemeral-storage": "6Gi"}).Obj(), existing: []*corev1.Pod{used},
			wantCode: framework.Unschedulable, wantReasons: []string{"Insufficient ephemeral-storage"}},
		{name: "insufficient extended resource", pod: st.MakePod().Name("p").Req(map[string]string{"example.com/gpu": "2"}).Obj(), existing: []*corev1.Pod{used},
			wantCode: framework.Unschedulable, wantReasons: []string{"Insufficient example.com/gpu"}},
		{name: "extended resource the node lacks", pod: st.MakePod().Name("p").Req(map[string]string{"example.com/fpga": "1"}).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantReasons: []string{"Insufficient example.com/fpga"}},
		{name: "scalar reasons are sorted", pod: st.MakePod().Name("p").Req(map[string]string{"z.io/b": "1", "a.io/c": "1", "m.io/a": "1"}).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantReasons: []string{"Insufficient a.io/c", "Insufficient m.io/a", "Insufficient z.io/b"}},
		{name: "ignored resource", args: &configv1.NodeResourcesFitArgs{IgnoredResources: []string{"example.com/fpga"}},
			pod: st.MakePod().Name("p").Req(map[string]string{"example.com/fpga": "1"}).Obj()},
		{name: "ignored resource group", args: &configv1.NodeResourcesFitArgs{IgnoredResourceGroups: []string{"example.com"}},
			pod: st.MakePod().Name("p").Req(map[string]string{"example.com/fpga": "1", "example.com/gpu": "5"}).Obj()},
		{name: "ignored resource group is a whole prefix", args: &configv1.NodeResourcesFitArgs{IgnoredResourceGroups: []string{"example"}},
			pod:      st.MakePod().Name("p").Req(map[string]string{"example.com/fpga": "1"}).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantReasons: []string{"Insufficient example.com/fpga"}},
		{name: "hugepages cannot be ignored", args: &configv1.NodeResourcesFitArgs{IgnoredResources: []string{"hugepages-2Mi"}},
			pod:      st.MakePod().Name("p").Req(map[string]string{"hugepages-2Mi": "2Gi"}).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantReasons: []string{"Insufficient hugepages-2Mi"}},
		{name: "zero extended request is not checked", pod: st.MakePod().Name("p").Req(map[string]string{"example.com/fpga": "0"}).Obj()},
		{name: "best-effort pod fits a full node", pod: st.MakePod().Name("p").Obj(),
			existing: []*corev1.Pod{st.MakePod().Name("big").Req(map[string]string{"cpu": "4", "memory": "8Gi"}).Obj()}},
		{name: "too many pods", pod: st.MakePod().Name("p").Obj(),
			node:     st.MakeNode().Name("n").Capacity(map[string]string{"cpu": "4", "pods": "1"}).Obj(),
			existing: []*corev1.Pod{st.MakePod().Name("e").Obj()}, wantCode: framework.Unschedulable, wantReasons: []string{"Too many pods"}},
		{name: "too many pods and insufficient cpu", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "1"}).Obj(),
			node:     st.MakeNode().Name("n").Capacity(map[string]string{"cpu": "1", "pods": "1"}).Obj(),
			existing: []*corev1.Pod{st.MakePod().Name("e").Req(map[string]string{"cpu": "500m"}).Obj()},
			wantCode: framework.Unschedulable, wantReasons: []string{"Too many pods", "Insufficient cpu"}},
		{name: "init container larger than the app containers counts",
			pod:      st.MakePod().Name("p").Req(map[string]string{"cpu": "500m"}).InitReq(map[string]string{"cpu": "2"}).Obj(),
			existing: []*corev1.Pod{used}, wantCode: framework.Unschedulable, wantReasons: []string{"Insufficient cpu"}},
		{name: "init container smaller than the app containers",
			pod:      st.MakePod().Name("p").Req(map[string]string{"cpu": "1"}).InitReq(map[string]string{"cpu": "1"}).Obj(),
			existing: []*corev1.Pod{used}},
		{name: "sidecar adds to the app containers",
			pod:      sidecar(st.MakePod().Name("p").Req(map[string]string{"cpu": "600m"}).Obj(), map[string]string{"cpu": "500m"}),
			existing: []*corev1.Pod{used}, wantCode: framework.Unschedulable, wantReasons: []string{"Insufficient cpu"}},
		{name: "overhead counts",
			pod: func() *corev1.Pod {
				p := st.MakePod().Name("p").Req(map[string]string{"memory": "1500Mi"}).Obj()
				p.Spec.Overhead = st.ResourceList(map[string]string{"memory": "1Gi"})
				return p
			}(),
			existing: []*corev1.Pod{used}, wantCode: framework.Unschedulable, wantReasons: []string{"Insufficient memory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFit(t, tc.args)
			n := tc.node
			if n == nil {
				n = node
			}
			ni := nodeInfo(n, tc.existing...)
			state := framework.NewCycleState()
			if _, s := f.PreFilter(context.Background(), state, tc.pod); !s.IsSuccess() {
				t.Fatal(s.AsError())
			}
			s := f.Filter(context.Background(), state, tc.pod, ni)
			if s.Code() != tc.wantCode {
				t.Fatalf("code %v (%q), want %v", s.Code(), s.Message(), tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantReasons, s.Reasons()); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFitFilterWithoutPreFilter(t *testing.T) {
	f := newFit(t, nil)
	s := f.Filter(context.Background(), framework.NewCycleState(), st.MakePod().Obj(), nodeInfo(st.MakeNode().Name("n").Obj()))
	if s.Code() != framework.Error {
		t.Errorf("want Error, got %v", s.Code())
	}
}

func TestFits(t *testing.T) {
	ni := nodeInfo(st.MakeNode().Name("n").Capacity(map[string]string{"cpu": "1"}).Obj())
	if s := Fits(st.MakePod().Req(map[string]string{"cpu": "2"}).Obj(), ni); s.Code() != framework.UnschedulableAndUnresolvable {
		t.Errorf("got %v", s.Code())
	}
	if s := Fits(st.MakePod().Req(map[string]string{"cpu": "1"}).Obj(), ni); !s.IsSuccess() {
		t.Errorf("got %v", s.Code())
	}
}

// scoreAll runs PreScore and Score for pod over the nodes.
func scoreAll(t *testing.T, pl framework.ScorePlugin, pod *corev1.Pod, infos []*framework.NodeInfo) ([]int64, *framework.Status) {
	t.Helper()
	state := framework.NewCycleState()
	if s := pl.(framework.PreScorePlugin).PreScore(context.Background(), state, pod, infos); !s.IsSuccess() {
		return nil, s
	}
	var out []int64
	for _, ni := range infos {
		sc, s := pl.Score(context.Background(), state, pod, ni)
		if !s.IsSuccess() {
			t.Fatal(s.AsError())
		}
		// Score without PreScore gives the same answer.
		sc2, _ := pl.Score(context.Background(), framework.NewCycleState(), pod, ni)
		if sc2 != sc {
			t.Errorf("score without PreScore %d, with %d", sc2, sc)
		}
		out = append(out, sc)
	}
	return out, nil
}

func TestFitScore(t *testing.T) {
	// Pod requesting 3000m cpu and 5000 bytes of memory, in two containers.
	pod := st.MakePod().Name("p").Req(map[string]string{"cpu": "1000m", "memory": "2000"}).Container("c2", map[string]string{"cpu": "2000m", "memory": "3000"}).Obj()
	small := st.MakeNode().Name("n1").Capacity(map[string]string{"cpu": "4000m", "memory": "10000"}).Obj()
	large := st.MakeNode().Name("n2").Capacity(map[string]string{"cpu": "6000m", "memory": "10000"}).Obj()
	gpuNode := st.MakeNode().Name("g").Capacity(map[string]string{"cpu": "4000m", "memory": "10000", "example.com/gpu": "4"}).Obj()
	bigNode := st.MakeNode().Name("big").Capacity(map[string]string{"cpu": "4", "memory": "8Gi"}).Obj()
	binpack := &configv1.RequestedToCapacityRatioParam{Shape: []configv1.UtilizationShapePoint{{Utilization: 0, Score: 0}, {Utilization: 100, Score: 10}}}
	spread := &configv1.RequestedToCapacityRatioParam{Shape: []configv1.UtilizationShapePoint{{Utilization: 0, Score: 10}, {Utilization: 100, Score: 0}}}
	tests := []struct {
		name  string
		args  *configv1.NodeResourcesFitArgs
		pod   *corev1.Pod
		infos []*framework.NodeInfo
		want  []int64
	}{
		{name: "LeastAllocated (default), differently sized nodes", pod: pod,
			infos: []*framework.NodeInfo{nodeInfo(small), nodeInfo(large)}, want: []int64{37, 50}},
		{name: "LeastAllocated counts pods already on the node", pod: pod,
			infos: []*framework.NodeInfo{nodeInfo(large, st.MakePod().Name("e").Req(map[string]string{"cpu": "3000m", "memory": "0"}).Obj())},
			// cpu: (6000-6000)*100/6000 = 0; memory: (10000-5000)*100/10000 = 50.
			want: []int64{25}},
		{name: "LeastAllocated uses default requests for pods requesting nothing", pod: st.MakePod().Name("be").Obj(),
			infos: []*framework.NodeInfo{nodeInfo(bigNode), nodeInfo(bigNode, st.MakePod().Name("e").Obj())},
			// cpu: 3900/4000 -> 97, memory: (8Gi-200Mi)/8Gi -> 97; with another best-effort pod: 95, 95.
			want: []int64{97, 95}},
		{name: "LeastAllocated, overcommitted resource scores 0", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "5", "memory": "1"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(small)}, want: []int64{49}},
		{name: "LeastAllocated with weights", pod: pod,
			args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.LeastAllocated,
				Resources: []configv1.ResourceSpec{{Name: "cpu", Weight: 3}, {Name: "memory", Weight: 1}}}},
			// (25*3 + 50*1) / 4 = 31.
			infos: []*framework.NodeInfo{nodeInfo(small)}, want: []int64{31}},
		{name: "LeastAllocated with an extended resource the pod requests", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "3000m", "memory": "5000", "example.com/gpu": "1"}).Obj(),
			args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.LeastAllocated,
				Resources: []configv1.ResourceSpec{{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 1}, {Name: "example.com/gpu", Weight: 2}}}},
			// gpu node: (25 + 50 + 75*2) / 4 = 56; node without gpu: (25+50)/2 = 37.
			infos: []*framework.NodeInfo{nodeInfo(gpuNode), nodeInfo(small)}, want: []int64{56, 37}},
		{name: "LeastAllocated skips an extended resource the pod does not request", pod: pod,
			args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.LeastAllocated,
				Resources: []configv1.ResourceSpec{{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 1}, {Name: "example.com/gpu", Weight: 2}}}},
			infos: []*framework.NodeInfo{nodeInfo(gpuNode)}, want: []int64{37}},
		{name: "MostAllocated", pod: pod,
			args:  &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.MostAllocated}},
			infos: []*framework.NodeInfo{nodeInfo(small), nodeInfo(large)}, want: []int64{62, 50}},
		{name: "MostAllocated caps overcommitted resources", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "5", "memory": "5000"}).Obj(),
			args:  &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.MostAllocated}},
			infos: []*framework.NodeInfo{nodeInfo(small)}, want: []int64{75}},
		{name: "RequestedToCapacityRatio bin packing rounds the average", pod: pod,
			args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.RequestedToCapacityRatio,
				RequestedToCapacityRatio: binpack}},
			// cpu 75% -> 75, memory 50% -> 50; round(62.5) = 63; large node: 50, 50.
			infos: []*framework.NodeInfo{nodeInfo(small), nodeInfo(large)}, want: []int64{63, 50}},
		{name: "RequestedToCapacityRatio spreading leaves zero scores out of the average", pod: st.MakePod().Name("p").Req(map[string]string{"cpu": "4000m", "memory": "2500"}).Obj(),
			args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.RequestedToCapacityRatio,
				RequestedToCapacityRatio: spread}},
			// cpu 100% -> 0 (left out), memory 25% -> 75.
			infos: []*framework.NodeInfo{nodeInfo(small)}, want: []int64{75}},
		{name: "RequestedToCapacityRatio with a multi-segment shape and weights", pod: pod,
			args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.RequestedToCapacityRatio,
				Resources: []configv1.ResourceSpec{{Name: "cpu", Weight: 2}, {Name: "memory", Weight: 1}},
				RequestedToCapacityRatio: &configv1.RequestedToCapacityRatioParam{Shape: []configv1.UtilizationShapePoint{
					{Utilization: 30, Score: 2}, {Utilization: 60, Score: 8}, {Utilization: 90, Score: 10}}}}},
			// cpu 75% -> 80 + (100-80)*(75-60)/30 = 90; memory 50% -> 20 + 60*20/30 = 60; round((90*2+60)/3) = 80.
			infos: []*framework.NodeInfo{nodeInfo(small)}, want: []int64{80}},
		{name: "node without allocatable scores 0", pod: pod, infos: []*framework.NodeInfo{nodeInfo(st.MakeNode().Name("empty").Obj())}, want: []int64{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, s := scoreAll(t, newFit(t, tc.args), tc.pod, tc.infos)
			if !s.IsSuccess() {
				t.Fatal(s.AsError())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewFitArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    runtime.Object
		wantErr string
	}{
		{name: "nil"},
		{name: "typed nil", args: (*configv1.NodeResourcesFitArgs)(nil)},
		{name: "empty", args: &configv1.NodeResourcesFitArgs{}},
		{name: "wrong type", args: &configv1.NodeAffinityArgs{}, wantErr: "want args to be of type NodeResourcesFitArgs"},
		{name: "strategy without type", args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{}},
			wantErr: `scoringStrategy.type: Unsupported value: ""`},
		{name: "unknown type", args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: "Balanced"}},
			wantErr: "scoringStrategy.type: Unsupported value"},
		{name: "weight too large", args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.MostAllocated,
			Resources: []configv1.ResourceSpec{{Name: "cpu", Weight: 101}}}}, wantErr: "resource weight of cpu not in valid range (0, 100]"},
		{name: "RequestedToCapacityRatio without shape", args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.RequestedToCapacityRatio}},
			wantErr: "scoringStrategy.requestedToCapacityRatio: Required value"},
		{name: "empty shape", args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.RequestedToCapacityRatio,
			RequestedToCapacityRatio: &configv1.RequestedToCapacityRatioParam{}}}, wantErr: "at least one point must be specified"},
		{name: "unsorted shape", args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.RequestedToCapacityRatio,
			RequestedToCapacityRatio: &configv1.RequestedToCapacityRatioParam{Shape: []configv1.UtilizationShapePoint{{Utilization: 50}, {Utilization: 50}}}}},
			wantErr: "values must be sorted in increasing order"},
		{name: "shape score out of range", args: &configv1.NodeResourcesFitArgs{ScoringStrategy: &configv1.ScoringStrategy{Type: configv1.RequestedToCapacityRatio,
			RequestedToCapacityRatio: &configv1.RequestedToCapacityRatioParam{Shape: []configv1.UtilizationShapePoint{{Utilization: 101, Score: 11}}}}},
			wantErr: "score: Invalid value: 11: not in valid range [0, 10]"},
		{name: "bad ignored resource", args: &configv1.NodeResourcesFitArgs{IgnoredResources: []string{"-bad-"}}, wantErr: "ignoredResources[0]"},
		{name: "ignored group with slash", args: &configv1.NodeResourcesFitArgs{IgnoredResourceGroups: []string{"example.com/gpu"}},
			wantErr: "resource group name can't contain '/'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFit(tc.args, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestFitEvents(t *testing.T) {
	ev := newFit(t, nil).EventsToRegister()
	want := []framework.ClusterEvent{
		{Resource: framework.EventPod, ActionType: framework.Delete | framework.UpdatePodScaleDown},
		{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeAllocatable | framework.UpdateNodeTaint | framework.UpdateNodeLabel},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Error(diff)
	}
}
