package nodeports

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// podWithPorts builds a pod whose container binds the given "ip/proto/port" host ports.
func podWithPorts(name string, ports ...framework.HostPort) *corev1.Pod {
	p := st.MakePod().Name(name).Obj()
	for _, hp := range ports {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{
			ContainerPort: hp.Port, HostPort: hp.Port, HostIP: hp.IP, Protocol: hp.Protocol})
	}
	return p
}

func hp(ip string, proto corev1.Protocol, port int32) framework.HostPort {
	return framework.HostPort{IP: ip, Protocol: proto, Port: port}
}

func TestFilter(t *testing.T) {
	const tcp, udp, sctp = corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP
	tests := []struct {
		name     string
		pod      *corev1.Pod
		existing []*corev1.Pod
		wantSkip bool
		wantCode framework.Code
	}{
		{name: "no host ports", pod: st.MakePod().Name("p").Obj(), wantSkip: true},
		{name: "container port without host port", pod: func() *corev1.Pod {
			p := st.MakePod().Name("p").Obj()
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
			return p
		}(), wantSkip: true},
		{name: "free node", pod: podWithPorts("p", hp("", tcp, 8080)), existing: nil},
		{name: "other protocol", pod: podWithPorts("p", hp("127.0.0.1", udp, 8080)),
			existing: []*corev1.Pod{podWithPorts("e", hp("127.0.0.1", tcp, 8080))}},
		{name: "other port", pod: podWithPorts("p", hp("127.0.0.1", tcp, 8080)),
			existing: []*corev1.Pod{podWithPorts("e", hp("127.0.0.1", tcp, 8081))}},
		{name: "same ip, protocol and port", pod: podWithPorts("p", hp("127.0.0.1", tcp, 8080)),
			existing: []*corev1.Pod{podWithPorts("e", hp("127.0.0.1", tcp, 8080))}, wantCode: framework.Unschedulable},
		{name: "other ip", pod: podWithPorts("p", hp("127.0.0.2", tcp, 8080)),
			existing: []*corev1.Pod{podWithPorts("e", hp("127.0.0.1", tcp, 8080))}},
		{name: "wildcard wanted, specific ip in use", pod: podWithPorts("p", hp("0.0.0.0", tcp, 8001)),
			existing: []*corev1.Pod{podWithPorts("e", hp("127.0.0.1", tcp, 8001))}, wantCode: framework.Unschedulable},
		{name: "empty ip means wildcard", pod: podWithPorts("p", hp("", tcp, 8001)),
			existing: []*corev1.Pod{podWithPorts("e", hp("10.0.0.1", tcp, 8001))}, wantCode: framework.Unschedulable},
		{name: "specific ip wanted, wildcard in use", pod: podWithPorts("p", hp("127.0.0.1", tcp, 8001)),
			existing: []*corev1.Pod{podWithPorts("e", hp("", tcp, 8001))}, wantCode: framework.Unschedulable},
		{name: "wildcard wanted, wildcard in use on other protocol", pod: podWithPorts("p", hp("0.0.0.0", sctp, 8001)),
			existing: []*corev1.Pod{podWithPorts("e", hp("0.0.0.0", tcp, 8001), hp("10.0.0.1", udp, 8001))}},
		{name: "empty protocol means TCP", pod: podWithPorts("p", hp("127.0.0.1", "", 9000)),
			existing: []*corev1.Pod{podWithPorts("e", hp("127.0.0.1", tcp, 9000))}, wantCode: framework.Unschedulable},
		{name: "second of two ports conflicts", pod: podWithPorts("p", hp("", udp, 53), hp("", tcp, 53)),
			existing: []*corev1.Pod{podWithPorts("e", hp("10.0.0.1", tcp, 53))}, wantCode: framework.Unschedulable},
		{name: "'::' is not a wildcard", pod: podWithPorts("p", hp("::", tcp, 80)),
			existing: []*corev1.Pod{podWithPorts("e", hp("10.0.0.1", tcp, 80))}},
	}
	pl := &NodePorts{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			_, s := pl.PreFilter(context.Background(), state, tc.pod)
			if tc.wantSkip {
				if !s.IsSkip() {
					t.Fatalf("PreFilter: want Skip, got %v", s.Code())
				}
				return
			}
			if !s.IsSuccess() {
				t.Fatalf("PreFilter: %v", s.AsError())
			}
			ni := framework.NewNodeInfo(tc.existing...)
			ni.SetNode(st.MakeNode().Name("n").Obj())
			s = pl.Filter(context.Background(), state, tc.pod, ni)
			if s.Code() != tc.wantCode {
				t.Fatalf("code %v, want %v", s.Code(), tc.wantCode)
			}
			if tc.wantCode != framework.Success && s.Message() != ErrReason {
				t.Errorf("message %q", s.Message())
			}
			if got := Fits(tc.pod, ni); got != (tc.wantCode == framework.Success) {
				t.Errorf("Fits = %v", got)
			}
		})
	}
}

func TestInitContainerPorts(t *testing.T) {
	p := st.MakePod().Name("p").Obj()
	p.Spec.InitContainers = []corev1.Container{{Name: "i", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}}}
	state := framework.NewCycleState()
	if _, s := (&NodePorts{}).PreFilter(context.Background(), state, p); !s.IsSuccess() {
		t.Fatalf("PreFilter: %v", s.Code())
	}
	ni := framework.NewNodeInfo(podWithPorts("e", hp("", corev1.ProtocolTCP, 80)))
	ni.SetNode(st.MakeNode().Name("n").Obj())
	if s := (&NodePorts{}).Filter(context.Background(), state, p, ni); s.Code() != framework.Unschedulable {
		t.Errorf("want Unschedulable, got %v", s.Code())
	}
}

func TestFilterWithoutPreFilter(t *testing.T) {
	ni := framework.NewNodeInfo()
	ni.SetNode(st.MakeNode().Name("n").Obj())
	if s := (&NodePorts{}).Filter(context.Background(), framework.NewCycleState(), st.MakePod().Obj(), ni); s.Code() != framework.Error {
		t.Errorf("want Error, got %v", s.Code())
	}
}
