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

func newBalanced(t testing.TB, args *configv1.NodeResourcesBalancedAllocationArgs) *BalancedAllocation {
	t.Helper()
	var obj runtime.Object
	if args != nil {
		obj = args
	}
	p, err := NewBalancedAllocation(obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*BalancedAllocation)
}

func TestBalancedAllocationScore(t *testing.T) {
	node := st.MakeNode().Name("n").Capacity(map[string]string{"cpu": "4000m", "memory": "10000"}).Obj()
	gpuNode := st.MakeNode().Name("g").Capacity(map[string]string{"cpu": "4000m", "memory": "10000", "example.com/gpu": "4"}).Obj()
	memHog := st.MakePod().Name("memhog").Req(map[string]string{"memory": "5000"}).Obj()
	tests := []struct {
		name     string
		args     *configv1.NodeResourcesBalancedAllocationArgs
		pod      *corev1.Pod
		infos    []*framework.NodeInfo
		want     []int64
		wantSkip bool
	}{
		{name: "best-effort pod skips scoring", pod: st.MakePod().Name("be").Obj(), infos: []*framework.NodeInfo{nodeInfo(node)}, wantSkip: true},
		{name: "unbalancing an empty node",
			// with the pod: |0.75-0.5|/2 = 0.125 -> 87; without: 100; 50 + (50+87-100)/2 = 68.
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "3000m", "memory": "5000"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(node)}, want: []int64{68}},
		{name: "a pod that keeps a node balanced scores 75",
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "2000m", "memory": "5000"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(node)}, want: []int64{75}},
		{name: "rebalancing a node scores higher",
			// without: |0-0.5|/2 -> 75; with: 0.5, 0.5 -> 100; 50 + (50+100-75)/2 = 87. The empty node: 50 + (50+75-100)/2 = 62.
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "2000m"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(node, memHog), nodeInfo(node)}, want: []int64{87, 62}},
		{name: "fractions are capped at 1",
			// with: cpu 1 (capped), memory 0.5 -> 75; without: 0, 0.5 -> 75; 75.
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "8000m"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(node, memHog)}, want: []int64{75}},
		{name: "plain requests are used: best-effort pods on the node do not count",
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "2000m", "memory": "5000"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(node, st.MakePod().Name("be").Obj())}, want: []int64{75}},
		{name: "three resources",
			args: &configv1.NodeResourcesBalancedAllocationArgs{Resources: []configv1.ResourceSpec{{Name: "cpu"}, {Name: "memory"}, {Name: "example.com/gpu"}}},
			// with: 0.5, 0.5, 1 -> mean 2/3, std sqrt((1/36+1/36+4/36)/3) = 0.2357 -> 76; without: 100; 50 + 26/2 = 63.
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "2000m", "memory": "5000", "example.com/gpu": "4"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(gpuNode)}, want: []int64{63}},
		{name: "an extended resource the pod does not request is left out",
			args:  &configv1.NodeResourcesBalancedAllocationArgs{Resources: []configv1.ResourceSpec{{Name: "cpu"}, {Name: "memory"}, {Name: "example.com/gpu"}}},
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "2000m", "memory": "5000"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(gpuNode)}, want: []int64{75}},
		{name: "a single resource always scores 75",
			args:  &configv1.NodeResourcesBalancedAllocationArgs{Resources: []configv1.ResourceSpec{{Name: "cpu"}}},
			pod:   st.MakePod().Name("p").Req(map[string]string{"cpu": "3000m"}).Obj(),
			infos: []*framework.NodeInfo{nodeInfo(node)}, want: []int64{75}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, s := scoreAll(t, newBalanced(t, tc.args), tc.pod, tc.infos)
			if tc.wantSkip {
				if !s.IsSkip() {
					t.Fatalf("want Skip, got %v", s.Code())
				}
				return
			}
			if !s.IsSuccess() {
				t.Fatal(s.AsError())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBalancedAllocationScoreBestEffortWithoutPreScore(t *testing.T) {
	ba := newBalanced(t, nil)
	sc, s := ba.Score(context.Background(), framework.NewCycleState(), st.MakePod().Obj(), nodeInfo(st.MakeNode().Name("n").Capacity(map[string]string{"cpu": "1"}).Obj()))
	if !s.IsSuccess() || sc != 0 {
		t.Errorf("got %d %v", sc, s.Code())
	}
}

func TestNewBalancedAllocationArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    runtime.Object
		wantErr string
	}{
		{name: "nil"},
		{name: "typed nil", args: (*configv1.NodeResourcesBalancedAllocationArgs)(nil)},
		{name: "weight defaults to 1", args: &configv1.NodeResourcesBalancedAllocationArgs{Resources: []configv1.ResourceSpec{{Name: "cpu"}}}},
		{name: "wrong type", args: &configv1.NodeResourcesFitArgs{}, wantErr: "want args to be of type NodeResourcesBalancedAllocationArgs"},
		{name: "weight other than 1", args: &configv1.NodeResourcesBalancedAllocationArgs{Resources: []configv1.ResourceSpec{{Name: "cpu", Weight: 2}}},
			wantErr: "resources[0].weight: Invalid value: 2: must be 1"},
		{name: "duplicate", args: &configv1.NodeResourcesBalancedAllocationArgs{Resources: []configv1.ResourceSpec{{Name: "cpu"}, {Name: "cpu"}}},
			wantErr: `resources[1].name: Duplicate value: "cpu"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBalancedAllocation(tc.args, nil)
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
