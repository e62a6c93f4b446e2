package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// now is the fixed "current time" of every test; fixtures are dated
// relative to it so AGE cells are predictable.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func ptr[T any](v T) *T { return &v }

// objectMeta returns object metadata for a namespaced object created an hour ago.
func objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(time.Hour)}
}

// --- pods ---

type podOpt func(*corev1.Pod)

// newPod builds a pod with one "app" container, created an hour ago, in
// phase Pending with no statuses; options move it along its lifecycle.
func newPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: objectMeta(name),
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func reason(r string) podOpt { return func(p *corev1.Pod) { p.Status.Reason = r } }

func deleting() podOpt {
	return func(p *corev1.Pod) { p.DeletionTimestamp = agoPtr(10 * time.Second) }
}

func condition(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason})
	}
}

// containers replaces the app containers with one per status (named
// c0, c1, ...) and sets the statuses.
func containers(statuses ...corev1.ContainerStatus) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers = nil
		for i := range statuses {
			if statuses[i].Name == "" {
				statuses[i].Name = "c" + itoa(i)
			}
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: statuses[i].Name, Image: "img"})
		}
		p.Status.ContainerStatuses = statuses
	}
}

// initContainers adds one init container per status (named i0, i1, ...).
// Statuses named "sidecar*" become restartable (sidecar) init containers.
func initContainers(statuses ...corev1.ContainerStatus) podOpt {
	return func(p *corev1.Pod) {
		for i := range statuses {
			if statuses[i].Name == "" {
				statuses[i].Name = "i" + itoa(i)
			}
			c := corev1.Container{Name: statuses[i].Name, Image: "busybox"}
			if len(c.Name) >= 7 && c.Name[:7] == "sidecar" {
				c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
			}
			p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		}
		p.Status.InitContainerStatuses = statuses
	}
}

func running(ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Ready:   ready,
		Started: ptr(true),
		State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}},
	}
}

func waiting(reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, Signal: signal, FinishedAt: ago(time.Minute),
	}}}
}

// restarted records restarts, the last of which ended `last` ago.
func restarted(cs corev1.ContainerStatus, count int32, last time.Duration) corev1.ContainerStatus {
	cs.RestartCount = count
	cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 1, Reason: "Error", FinishedAt: ago(last),
	}}
	return cs
}

// --- helpers ---

// mustTable renders objs and fails the test on error.
func mustTable(t testing.TB, objs ...runtime.Object) *metav1.Table {
	t.Helper()
	table, err := Table(objs, now)
	if err != nil {
		t.Fatalf("Table: %v", err)
	}
	return table
}

// columnNames lists the column names, with a "*" suffix on wide ones.
func columnNames(defs []metav1.TableColumnDefinition) []string {
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.Name
		if d.Priority > 0 {
			out[i] += "*"
		}
	}
	return out
}
