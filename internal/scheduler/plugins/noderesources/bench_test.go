package noderesources

import (
	"context"
	"fmt"
	"testing"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// BenchmarkFitFilterScore5000Nodes measures one pod's Filter and Score over 5,000 nodes carrying 20 pods
// each (one op = all 5,000 nodes).
func BenchmarkFitFilterScore5000Nodes(b *testing.B) {
	const numNodes, podsPerNode = 5000, 20
	infos := make([]*framework.NodeInfo, numNodes)
	for i := range infos {
		var pods []*framework.PodInfo
		for j := 0; j < podsPerNode; j++ {
			pods = append(pods, framework.NewPodInfo(st.MakePod().Name(fmt.Sprintf("p-%d-%d", i, j)).
				Req(map[string]string{"cpu": "100m", "memory": "256Mi", "example.com/gpu": "0"}).Obj()))
		}
		ni := framework.NewNodeInfo()
		for _, pi := range pods {
			ni.AddPod(pi)
		}
		ni.SetNode(st.MakeNode().Name(fmt.Sprintf("node-%d", i)).
			Capacity(map[string]string{"cpu": fmt.Sprint(8 + i%8), "memory": "32Gi", "ephemeral-storage": "100Gi", "example.com/gpu": "4"}).Obj())
		infos[i] = ni
	}
	pod := st.MakePod().Name("incoming").Req(map[string]string{"cpu": "500m", "memory": "1Gi", "example.com/gpu": "1"}).Obj()
	for _, strategy := range []string{"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio", "BalancedAllocation"} {
		b.Run(strategy, func(b *testing.B) {
			ctx := context.Background()
			fit := newFit(b, nil)
			var scorer framework.ScorePlugin = fit
			switch strategy {
			case "MostAllocated":
				fit.strategy = "MostAllocated"
			case "RequestedToCapacityRatio":
				fit.strategy = "RequestedToCapacityRatio"
				fit.shape = []shapePoint{{0, 0}, {100, 100}}
			case "BalancedAllocation":
				scorer = newBalanced(b, nil)
			}
			state := framework.NewCycleState()
			if _, s := fit.PreFilter(ctx, state, pod); !s.IsSuccess() {
				b.Fatal(s.AsError())
			}
			if s := scorer.(framework.PreScorePlugin).PreScore(ctx, state, pod, infos); !s.IsSuccess() {
				b.Fatal(s.AsError())
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, ni := range infos {
					if s := fit.Filter(ctx, state, pod, ni); s != nil {
						b.Fatal(s.Message())
					}
					if _, s := scorer.Score(ctx, state, pod, ni); s != nil {
						b.Fatal(s.Message())
					}
				}
			}
		})
	}
}
