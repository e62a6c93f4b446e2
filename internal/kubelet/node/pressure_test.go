package node

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseEvictionHard(t *testing.T) {
	ts, err := ParseEvictionHard(DefaultEvictionHard)
	if err != nil || len(ts) != 5 {
		t.Fatalf("defaults: %v %v", ts, err)
	}
	if ts[0].Signal != SignalMemoryAvailable || ts[0].Quantity.String() != "100Mi" || ts[1].Percent != 10 {
		t.Fatalf("defaults parsed as %+v", ts)
	}
	for in, want := range map[string]string{
		"memory.available>1Gi":             "only the < operator",
		"disk.available<1Gi":               `unknown signal "disk.available"`,
		"nodefs.available<120%":            "between 0% and 100%",
		"memory.available<lots":            "not a non-negative quantity",
		"pid.available<5%,pid.available<1": "given twice",
	} {
		if _, err := ParseEvictionHard(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestPressureConditions(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	obs := map[string]observation{
		SignalMemoryAvailable: {available: 50 << 20, capacity: 8 << 30}, // under 100Mi
		SignalNodeFsAvailable: {available: 50, capacity: 100},
		SignalPIDAvailable:    {available: 100, capacity: 4 << 20},
	}
	ts, _ := ParseEvictionHard("memory.available<100Mi,nodefs.available<10%,pid.available<1%")
	a := New(nil, Config{Name: "n", IP: "10.0.0.1", DataDir: t.TempDir(), EvictionHard: ts, Now: func() time.Time { return now },
		observe: func(string) map[string]observation { return obs }})
	conds := func() map[corev1.NodeConditionType]corev1.NodeCondition {
		st, err := a.desiredStatus(metav1.NewTime(now))
		if err != nil {
			t.Fatal(err)
		}
		out := map[corev1.NodeConditionType]corev1.NodeCondition{}
		for _, c := range st.Conditions {
			out[c.Type] = c
		}
		return out
	}
	c := conds()
	if c[corev1.NodeMemoryPressure].Status != corev1.ConditionTrue || c[corev1.NodeMemoryPressure].Reason != "KubeletHasInsufficientMemory" {
		t.Fatalf("memory: %+v", c[corev1.NodeMemoryPressure])
	}
	if c[corev1.NodeDiskPressure].Status != corev1.ConditionFalse || c[corev1.NodeDiskPressure].Reason != "KubeletHasNoDiskPressure" {
		t.Fatalf("disk: %+v", c[corev1.NodeDiskPressure])
	}
	if c[corev1.NodePIDPressure].Status != corev1.ConditionTrue || c[corev1.NodePIDPressure].Reason != "KubeletHasInsufficientPID" {
		t.Fatalf("pid: %+v", c[corev1.NodePIDPressure])
	}
	// The signal clears: the condition holds for the transition period, then goes back to False.
	obs[SignalMemoryAvailable] = observation{available: 4 << 30, capacity: 8 << 30}
	now = now.Add(4 * time.Minute)
	if c = conds(); c[corev1.NodeMemoryPressure].Status != corev1.ConditionTrue {
		t.Fatalf("memory pressure dropped within the transition period: %+v", c[corev1.NodeMemoryPressure])
	}
	now = now.Add(2 * time.Minute)
	if c = conds(); c[corev1.NodeMemoryPressure].Status != corev1.ConditionFalse || c[corev1.NodeMemoryPressure].Reason != "KubeletHasSufficientMemory" {
		t.Fatalf("memory pressure after the transition period: %+v", c[corev1.NodeMemoryPressure])
	}
}

func TestAllocatableHoldsBackMemoryThreshold(t *testing.T) {
	ts, _ := ParseEvictionHard("memory.available<100Mi")
	a := New(nil, Config{Name: "n", IP: "10.0.0.1", DataDir: t.TempDir(), EvictionHard: ts,
		observe: func(string) map[string]observation { return nil }})
	st, err := a.desiredStatus(metav1.Now())
	if err != nil {
		t.Fatal(err)
	}
	capMem, alloc := st.Capacity[corev1.ResourceMemory], st.Allocatable[corev1.ResourceMemory]
	if capMem.Value()-alloc.Value() != 100<<20 {
		t.Fatalf("capacity %s, allocatable %s: want 100Mi held back", capMem.String(), alloc.String())
	}
}
