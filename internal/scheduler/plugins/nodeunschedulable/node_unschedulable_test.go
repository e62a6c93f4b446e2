package nodeunschedulable

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

func TestFilter(t *testing.T) {
	tests := []struct {
		name     string
		pod      *corev1.Pod
		node     *corev1.Node
		wantCode framework.Code
		wantMsg  string
	}{
		{
			name: "schedulable node",
			pod:  st.MakePod().Name("p").Obj(),
			node: st.MakeNode().Name("n").Obj(),
		},
		{
			name:     "cordoned node, no toleration",
			pod:      st.MakePod().Name("p").Obj(),
			node:     st.MakeNode().Name("n").Unschedulable().Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
			wantMsg:  ErrReasonUnschedulable,
		},
		{
			name: "cordoned node, exact toleration",
			pod: st.MakePod().Name("p").Toleration(corev1.Toleration{
				Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}).Obj(),
			node: st.MakeNode().Name("n").Unschedulable().Obj(),
		},
		{
			name: "cordoned node, toleration of any effect",
			pod: st.MakePod().Name("p").Toleration(corev1.Toleration{
				Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists}).Obj(),
			node: st.MakeNode().Name("n").Unschedulable().Obj(),
		},
		{
			name: "cordoned node, tolerate everything",
			pod:  st.MakePod().Name("p").Toleration(corev1.Toleration{Operator: corev1.TolerationOpExists}).Obj(),
			node: st.MakeNode().Name("n").Unschedulable().Obj(),
		},
		{
			name: "cordoned node, toleration with the wrong effect",
			pod: st.MakePod().Name("p").Toleration(corev1.Toleration{
				Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}).Obj(),
			node:     st.MakeNode().Name("n").Unschedulable().Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
			wantMsg:  ErrReasonUnschedulable,
		},
		{
			name: "cordoned node, Equal toleration with a value does not match the empty taint value",
			pod: st.MakePod().Name("p").Toleration(corev1.Toleration{
				Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpEqual, Value: "x", Effect: corev1.TaintEffectNoSchedule}).Obj(),
			node:     st.MakeNode().Name("n").Unschedulable().Obj(),
			wantCode: framework.UnschedulableAndUnresolvable,
			wantMsg:  ErrReasonUnschedulable,
		},
	}
	p, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl := p.(*NodeUnschedulable)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ni := framework.NewNodeInfo()
			ni.SetNode(tc.node)
			s := pl.Filter(context.Background(), framework.NewCycleState(), tc.pod, ni)
			if s.Code() != tc.wantCode || s.Message() != tc.wantMsg {
				t.Errorf("got %v %q, want %v %q", s.Code(), s.Message(), tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestFilterNoNode(t *testing.T) {
	pl := &NodeUnschedulable{}
	s := pl.Filter(context.Background(), nil, st.MakePod().Obj(), framework.NewNodeInfo())
	if s.Code() != framework.UnschedulableAndUnresolvable || s.Message() != ErrReasonUnknownCondition {
		t.Errorf("got %v %q", s.Code(), s.Message())
	}
}

func TestEvents(t *testing.T) {
	ev := (&NodeUnschedulable{}).EventsToRegister()
	if len(ev) != 1 || ev[0].Resource != framework.EventNode || ev[0].ActionType&framework.UpdateNodeTaint == 0 || ev[0].ActionType&framework.Add == 0 {
		t.Errorf("unexpected events %+v", ev)
	}
}
