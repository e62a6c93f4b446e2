package printers

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestPodColumns(t *testing.T) {
	got := columnNames(Columns(&corev1.Pod{}))
	want := []string{"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns = %q, want %q", got, want)
	}
	c := Columns(&corev1.Pod{})
	if c[0].Format != "name" || c[0].Type != "string" || c[0].Description == "" {
		t.Errorf("name column = %+v", c[0])
	}
	if c[3].Type != "string" {
		t.Errorf("restarts column type = %q, want string (it carries \"3 (5m ago)\")", c[3].Type)
	}
}

// TestPodStatus covers the READY, STATUS and RESTARTS cells through the
// pod lifecycle.
func TestPodStatus(t *testing.T) {
	tests := []struct {
		name                    string
		pod                     *corev1.Pod
		ready, status, restarts string
	}{
		{"pending, nothing started", newPod("p"), "0/1", "Pending", "0"},
		{"running and ready", newPod("p", phase(corev1.PodRunning), containers(running(true))), "1/1", "Running", "0"},
		{"running, not ready", newPod("p", phase(corev1.PodRunning), containers(running(false))), "0/1", "Running", "0"},
		{"two containers, one ready", newPod("p", phase(corev1.PodRunning), containers(running(true), running(false))), "1/2", "Running", "0"},
		{"image pull", newPod("p", containers(waiting("ErrImagePull"))), "0/1", "ErrImagePull", "0"},
		{"container creating", newPod("p", containers(waiting("ContainerCreating"))), "0/1", "ContainerCreating", "0"},
		{
			"crash loop with last restart time",
			newPod("p", phase(corev1.PodRunning), containers(restarted(waiting("CrashLoopBackOff"), 3, 5*time.Minute))),
			"0/1", "CrashLoopBackOff", "3 (5m ago)",
		},
		{
			"restarts without a recorded termination",
			newPod("p", phase(corev1.PodRunning), containers(func() corev1.ContainerStatus { c := running(true); c.RestartCount = 2; return c }())),
			"1/1", "Running", "2",
		},
		{
			"restarts summed over containers, latest time wins",
			newPod("p", phase(corev1.PodRunning), containers(restarted(running(true), 1, time.Hour), restarted(running(true), 2, 90*time.Second))),
			"2/2", "Running", "3 (90s ago)",
		},
		{"first init container running", newPod("p", initContainers(running(false))), "0/1", "Init:0/1", "0"},
		{
			"second of two init containers running",
			newPod("p", initContainers(terminated("Completed", 0, 0), running(false))),
			"0/1", "Init:1/2", "0",
		},
		{
			"init container waiting to start",
			newPod("p", initContainers(waiting("PodInitializing"))),
			"0/1", "Init:0/1", "0",
		},
		{
			"init container crash loop counts init restarts",
			newPod("p", initContainers(restarted(waiting("CrashLoopBackOff"), 4, 2*time.Minute))),
			"0/1", "Init:CrashLoopBackOff", "4 (2m ago)",
		},
		{"init container failed", newPod("p", initContainers(terminated("Error", 1, 0))), "0/1", "Init:Error", "0"},
		{"init exit code without reason", newPod("p", initContainers(terminated("", 2, 0))), "0/1", "Init:ExitCode:2", "0"},
		{"init killed by signal", newPod("p", initContainers(terminated("", 137, 9))), "0/1", "Init:Signal:9", "0"},
		{
			"init done, app containers initialising",
			newPod("p", initContainers(terminated("Completed", 0, 0)), containers(waiting("PodInitializing"))),
			"0/1", "PodInitializing", "0",
		},
		{
			"init restarts are forgotten once initialised",
			newPod("p", phase(corev1.PodRunning), initContainers(restarted(terminated("Completed", 0, 0), 2, time.Hour)), containers(running(true))),
			"1/1", "Running", "0",
		},
		{
			"completed",
			newPod("p", phase(corev1.PodSucceeded), containers(terminated("Completed", 0, 0))),
			"0/1", "Completed", "0",
		},
		{"error", newPod("p", phase(corev1.PodFailed), containers(terminated("Error", 1, 0))), "0/1", "Error", "0"},
		{"oom killed", newPod("p", phase(corev1.PodRunning), containers(terminated("OOMKilled", 137, 0))), "0/1", "OOMKilled", "0"},
		{"exit code without reason", newPod("p", phase(corev1.PodFailed), containers(terminated("", 3, 0))), "0/1", "ExitCode:3", "0"},
		{"signal without reason", newPod("p", phase(corev1.PodFailed), containers(terminated("", 0, 15))), "0/1", "Signal:15", "0"},
		{
			"one completed, one running, pod ready",
			newPod("p", phase(corev1.PodRunning), condition(corev1.PodReady, corev1.ConditionTrue, ""),
				containers(terminated("Completed", 0, 0), running(true))),
			"1/2", "Running", "0",
		},
		{
			"one completed, one running, pod not ready",
			newPod("p", phase(corev1.PodRunning), containers(terminated("Completed", 0, 0), running(true))),
			"1/2", "NotReady", "0",
		},
		{
			"first completed, second failed",
			newPod("p", phase(corev1.PodRunning), containers(terminated("Completed", 0, 0), terminated("Error", 1, 0))),
			"0/2", "Error", "0",
		},
		{
			"sidecar counts towards ready and restarts",
			newPod("p", phase(corev1.PodRunning), condition(corev1.PodInitialized, corev1.ConditionTrue, ""),
				initContainers(func() corev1.ContainerStatus {
					c := restarted(running(true), 2, 10*time.Minute)
					c.Name = "sidecar-log"
					return c
				}()),
				containers(running(true))),
			"2/2", "Running", "2 (10m ago)",
		},
		{
			"sidecar not started yet blocks init",
			newPod("p", initContainers(corev1.ContainerStatus{Name: "sidecar-log", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}})),
			"0/2", "Init:0/1", "0",
		},
		{"terminating", newPod("p", phase(corev1.PodRunning), containers(running(true)), deleting()), "1/1", "Terminating", "0"},
		{
			"completed pod being deleted stays completed",
			newPod("p", phase(corev1.PodSucceeded), containers(terminated("Completed", 0, 0)), deleting()),
			"0/1", "Completed", "0",
		},
		{"node lost keeps the reason", newPod("p", phase(corev1.PodRunning), reason("NodeLost"), containers(running(true))), "1/1", "NodeLost", "0"},
		{"node lost, no statuses", newPod("p", phase(corev1.PodRunning), reason("NodeLost")), "0/1", "NodeLost", "0"},
		{"node lost and deleted", newPod("p", phase(corev1.PodRunning), reason("NodeLost"), deleting()), "0/1", "Unknown", "0"},
		{"evicted", newPod("p", phase(corev1.PodFailed), reason("Evicted")), "0/1", "Evicted", "0"},
		{
			"scheduling gated",
			newPod("p", condition(corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonSchedulingGated)),
			"0/1", "SchedulingGated", "0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := mustTable(t, tt.pod).Rows[0]
			got := []any{row.Cells[1], row.Cells[2], row.Cells[3]}
			want := []any{tt.ready, tt.status, tt.restarts}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("READY/STATUS/RESTARTS = %q, want %q", got, want)
			}
		})
	}
}

func TestPodCells(t *testing.T) {
	pod := newPod("web-0", phase(corev1.PodRunning), containers(running(true)),
		condition("example.com/gate-a", corev1.ConditionTrue, ""),
		condition("example.com/gate-b", corev1.ConditionFalse, ""),
		func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.1.0.7"}, {IP: "fd00::7"}}
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate-a"}, {ConditionType: "example.com/gate-b"}}
		})
	bare := newPod("bare")
	legacyIP := newPod("legacy", func(p *corev1.Pod) { p.Status.PodIP = "10.1.0.8"; p.Status.NominatedNodeName = "node-2" })

	table := mustTable(t, pod, bare, legacyIP)
	want := [][]any{
		{"web-0", "1/1", "Running", "0", "60m", "10.1.0.7", "node-1", "<none>", "1/2"},
		{"bare", "0/1", "Pending", "0", "60m", "<none>", "<none>", "<none>", "<none>"},
		{"legacy", "0/1", "Pending", "0", "60m", "10.1.0.8", "<none>", "node-2", "<none>"},
	}
	for i, row := range table.Rows {
		if !reflect.DeepEqual(row.Cells, want[i]) {
			t.Errorf("row %d = %q, want %q", i, row.Cells, want[i])
		}
		if row.Object.Object != nil || row.Object.Raw != nil {
			t.Errorf("row %d carries an object; the caller fills it", i)
		}
	}
}

func TestPodRowConditions(t *testing.T) {
	table := mustTable(t,
		newPod("ok", phase(corev1.PodSucceeded)),
		newPod("bad", phase(corev1.PodFailed)),
		newPod("run", phase(corev1.PodRunning)),
	)
	if c := table.Rows[0].Conditions; len(c) != 1 || c[0].Type != metav1.RowCompleted || c[0].Reason != "Succeeded" {
		t.Errorf("succeeded conditions = %+v", c)
	}
	if c := table.Rows[1].Conditions; len(c) != 1 || c[0].Reason != "Failed" {
		t.Errorf("failed conditions = %+v", c)
	}
	if c := table.Rows[2].Conditions; c != nil {
		t.Errorf("running conditions = %+v, want none", c)
	}
}

func BenchmarkTablePods(b *testing.B) {
	variants := []*corev1.Pod{
		newPod("p", phase(corev1.PodRunning), containers(running(true), running(true))),
		newPod("p", phase(corev1.PodRunning), containers(restarted(waiting("CrashLoopBackOff"), 7, 3*time.Minute))),
		newPod("p", initContainers(terminated("Completed", 0, 0), running(false))),
		newPod("p", phase(corev1.PodSucceeded), containers(terminated("Completed", 0, 0))),
		newPod("p", phase(corev1.PodRunning), containers(running(true)), deleting()),
	}
	objs := make([]runtime.Object, 1000)
	for i := range objs {
		p := variants[i%len(variants)].DeepCopy()
		p.Name = "pod-" + itoa(i)
		objs[i] = p
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Table(objs, now); err != nil {
			b.Fatal(err)
		}
	}
}
