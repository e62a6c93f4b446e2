package tainttoleration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

func tol(key, value string, op corev1.TolerationOperator, effect corev1.TaintEffect) corev1.Toleration {
	return corev1.Toleration{Key: key, Value: value, Operator: op, Effect: effect}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name     string
		pod      *corev1.Pod
		node     *corev1.Node
		wantCode framework.Code
	}{
		{
			name: "no taints",
			pod:  st.MakePod().Name("p").Obj(),
			node: st.MakeNode().Name("n").Obj(),
		},
		{
			name:     "NoSchedule taint not tolerated",
			pod:      st.MakePod().Name("p").Obj(),
			node:     st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectNoSchedule).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
		},
		{
			name:     "NoExecute taint not tolerated",
			pod:      st.MakePod().Name("p").Obj(),
			node:     st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectNoExecute).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
		},
		{
			name: "PreferNoSchedule taint is ignored by Filter",
			pod:  st.MakePod().Name("p").Obj(),
			node: st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectPreferNoSchedule).Obj(),
		},
		{
			name: "Equal toleration matches key, value and effect",
			pod:  st.MakePod().Name("p").Toleration(tol("dedicated", "user1", corev1.TolerationOpEqual, corev1.TaintEffectNoSchedule)).Obj(),
			node: st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectNoSchedule).Obj(),
		},
		{
			name: "empty operator means Equal",
			pod:  st.MakePod().Name("p").Toleration(tol("dedicated", "user1", "", corev1.TaintEffectNoSchedule)).Obj(),
			node: st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectNoSchedule).Obj(),
		},
		{
			name:     "Equal toleration with another value",
			pod:      st.MakePod().Name("p").Toleration(tol("dedicated", "user2", corev1.TolerationOpEqual, corev1.TaintEffectNoSchedule)).Obj(),
			node:     st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectNoSchedule).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
		},
		{
			name: "Exists toleration ignores the value",
			pod:  st.MakePod().Name("p").Toleration(tol("dedicated", "", corev1.TolerationOpExists, corev1.TaintEffectNoSchedule)).Obj(),
			node: st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectNoSchedule).Obj(),
		},
		{
			name: "empty effect tolerates every effect",
			pod:  st.MakePod().Name("p").Toleration(tol("dedicated", "", corev1.TolerationOpExists, "")).Obj(),
			node: st.MakeNode().Name("n").Taint("dedicated", "a", corev1.TaintEffectNoSchedule).Taint("dedicated", "b", corev1.TaintEffectNoExecute).Obj(),
		},
		{
			name:     "toleration for another effect",
			pod:      st.MakePod().Name("p").Toleration(tol("dedicated", "", corev1.TolerationOpExists, corev1.TaintEffectNoExecute)).Obj(),
			node:     st.MakeNode().Name("n").Taint("dedicated", "user1", corev1.TaintEffectNoSchedule).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
		},
		{
			name: "empty key with Exists tolerates everything",
			pod:  st.MakePod().Name("p").Toleration(tol("", "", corev1.TolerationOpExists, "")).Obj(),
			node: st.MakeNode().Name("n").Taint("a", "1", corev1.TaintEffectNoSchedule).Taint("b", "2", corev1.TaintEffectNoExecute).Obj(),
		},
		{
			name:     "one of two taints untolerated",
			pod:      st.MakePod().Name("p").Toleration(tol("a", "1", corev1.TolerationOpEqual, corev1.TaintEffectNoSchedule)).Obj(),
			node:     st.MakeNode().Name("n").Taint("a", "1", corev1.TaintEffectNoSchedule).Taint("b", "2", corev1.TaintEffectNoSchedule).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
		},
		{
			name:     "Gt operator is not enabled",
			pod:      st.MakePod().Name("p").Toleration(tol("n", "1", corev1.TolerationOpGt, corev1.TaintEffectNoSchedule)).Obj(),
			node:     st.MakeNode().Name("n").Taint("n", "5", corev1.TaintEffectNoSchedule).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
		},
	}
	p, _ := New(nil, nil)
	pl := p.(*TaintToleration)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ni := framework.NewNodeInfo()
			ni.SetNode(tc.node)
			s := pl.Filter(context.Background(), framework.NewCycleState(), tc.pod, ni)
			if s.Code() != tc.wantCode {
				t.Fatalf("code %v (%q), want %v", s.Code(), s.Message(), tc.wantCode)
			}
			if tc.wantCode != framework.Success && s.Message() != ErrReasonUntolerated {
				t.Errorf("message %q", s.Message())
			}
		})
	}
}

func TestFindUntoleratedTaint(t *testing.T) {
	taints := []corev1.Taint{
		{Key: "soft", Value: "x", Effect: corev1.TaintEffectPreferNoSchedule},
		{Key: "a", Value: "1", Effect: corev1.TaintEffectNoSchedule},
		{Key: "b", Value: "2", Effect: corev1.TaintEffectNoExecute},
	}
	got, ok := FindUntoleratedTaint(taints, []corev1.Toleration{tol("a", "", corev1.TolerationOpExists, "")})
	if !ok || got.Key != "b" {
		t.Fatalf("got %v %v, want taint b", got, ok)
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []*corev1.Node
		want  []int64
	}{
		{
			name: "the node whose PreferNoSchedule taints are tolerated scores highest",
			pod: st.MakePod().Name("p").
				Toleration(tol("foo", "bar", corev1.TolerationOpEqual, corev1.TaintEffectPreferNoSchedule)).
				Toleration(tol("foo2", "bar2", corev1.TolerationOpEqual, "")).Obj(),
			nodes: []*corev1.Node{
				st.MakeNode().Name("n1").Taint("foo", "bar", corev1.TaintEffectPreferNoSchedule).Obj(),
				st.MakeNode().Name("n2").Taint("foo", "blah", corev1.TaintEffectPreferNoSchedule).Obj(),
				st.MakeNode().Name("n3").Taint("foo", "blah", corev1.TaintEffectPreferNoSchedule).Taint("x", "y", corev1.TaintEffectPreferNoSchedule).Obj(),
			},
			want: []int64{100, 50, 0},
		},
		{
			name: "tolerations for other effects do not count",
			pod:  st.MakePod().Name("p").Toleration(tol("foo", "", corev1.TolerationOpExists, corev1.TaintEffectNoSchedule)).Obj(),
			nodes: []*corev1.Node{
				st.MakeNode().Name("n1").Obj(),
				st.MakeNode().Name("n2").Taint("foo", "bar", corev1.TaintEffectPreferNoSchedule).Obj(),
			},
			want: []int64{100, 0},
		},
		{
			name: "NoSchedule taints do not affect the score",
			pod:  st.MakePod().Name("p").Obj(),
			nodes: []*corev1.Node{
				st.MakeNode().Name("n1").Obj(),
				st.MakeNode().Name("n2").Taint("foo", "bar", corev1.TaintEffectNoSchedule).Obj(),
			},
			want: []int64{100, 100},
		},
	}
	pl := &TaintToleration{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			var infos []*framework.NodeInfo
			for _, n := range tc.nodes {
				ni := framework.NewNodeInfo()
				ni.SetNode(n)
				infos = append(infos, ni)
			}
			if s := pl.PreScore(context.Background(), state, tc.pod, infos); !s.IsSuccess() {
				t.Fatal(s.AsError())
			}
			var scores framework.NodeScoreList
			for _, ni := range infos {
				sc, s := pl.Score(context.Background(), state, tc.pod, ni)
				if !s.IsSuccess() {
					t.Fatal(s.AsError())
				}
				scores = append(scores, framework.NodeScore{Name: ni.NodeName(), Score: sc})
			}
			if s := pl.ScoreExtensions().NormalizeScore(context.Background(), state, tc.pod, scores); !s.IsSuccess() {
				t.Fatal(s.AsError())
			}
			for i, want := range tc.want {
				if scores[i].Score != want {
					t.Errorf("node %s: score %d, want %d", scores[i].Name, scores[i].Score, want)
				}
			}
		})
	}
}

func TestScoreWithoutPreScore(t *testing.T) {
	ni := framework.NewNodeInfo()
	ni.SetNode(st.MakeNode().Name("n").Obj())
	if _, s := (&TaintToleration{}).Score(context.Background(), framework.NewCycleState(), st.MakePod().Obj(), ni); s.Code() != framework.Error {
		t.Errorf("want Error, got %v", s.Code())
	}
}
