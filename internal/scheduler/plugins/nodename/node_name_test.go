package nodename

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
	}{
		{name: "no nodeName", pod: st.MakePod().Name("p").Obj(), node: st.MakeNode().Name("n1").Obj()},
		{name: "matching nodeName", pod: st.MakePod().Name("p").Node("n1").Obj(), node: st.MakeNode().Name("n1").Obj()},
		{name: "other nodeName", pod: st.MakePod().Name("p").Node("n2").Obj(), node: st.MakeNode().Name("n1").Obj(), wantCode: framework.UnschedulableAndUnresolvable},
		{name: "prefix is not a match", pod: st.MakePod().Name("p").Node("n").Obj(), node: st.MakeNode().Name("n1").Obj(), wantCode: framework.UnschedulableAndUnresolvable},
	}
	p, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ni := framework.NewNodeInfo()
			ni.SetNode(tc.node)
			s := p.(framework.FilterPlugin).Filter(context.Background(), framework.NewCycleState(), tc.pod, ni)
			if s.Code() != tc.wantCode {
				t.Fatalf("code %v, want %v", s.Code(), tc.wantCode)
			}
			if tc.wantCode != framework.Success && s.Message() != ErrReason {
				t.Errorf("message %q", s.Message())
			}
		})
	}
}

func TestEvents(t *testing.T) {
	ev := (&NodeName{}).EventsToRegister()
	if len(ev) != 1 || ev[0].Resource != framework.EventNode || ev[0].ActionType&framework.Add == 0 {
		t.Errorf("unexpected events %+v", ev)
	}
}
