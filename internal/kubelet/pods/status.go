package pods

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func ownCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodReadyToStartContainers:
		return true
	}
	return false
}

func nanoTime(ns int64) metav1.Time { return metav1.NewTime(time.Unix(0, ns)) }

// computeStatus derives the pod's status from its containers, as upstream's kubelet reports it.
func computeStatus(pod *corev1.Pod, statuses map[string]*runtimeapi.ContainerStatus, attempts map[string]uint32, ip, hostIP string, started metav1.Time, sandboxReady, initDone bool) corev1.PodStatus {
	st := corev1.PodStatus{QOSClass: pod.Status.QOSClass, HostIP: hostIP}
	if hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	if ip != "" {
		st.PodIP, st.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	}
	if !started.IsZero() {
		st.StartTime = &started
	}
	initFailed := false
	for _, c := range pod.Spec.InitContainers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, RestartCount: int32(attempts[c.Name])}
		rs := statuses[c.Name]
		switch {
		case rs == nil:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
		case rs.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: nanoTime(rs.StartedAt)}
			cs.Started = ptrTrue()
			cs.Ready = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		case rs.State == runtimeapi.ContainerState_CONTAINER_EXITED:
			cs.State.Terminated = terminatedState(rs)
			cs.Started = ptrFalse()
			if rs.ExitCode != 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				initFailed = true
			}
		}
		if rs != nil {
			cs.ContainerID, cs.ImageID = "containerd://"+rs.Id, rs.ImageRef
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	running, succeeded, failed := 0, 0, 0
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, RestartCount: int32(attempts[c.Name])}
		rs := statuses[c.Name]
		switch {
		case rs == nil && !initDone:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
		case rs == nil:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		case rs.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: nanoTime(rs.StartedAt)}
			cs.Ready, cs.Started = true, ptrTrue()
			running++
		case rs.State == runtimeapi.ContainerState_CONTAINER_EXITED:
			cs.State.Terminated = terminatedState(rs)
			cs.Started = ptrFalse()
			if rs.ExitCode == 0 {
				succeeded++
			} else {
				failed++
			}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		if rs != nil {
			cs.ContainerID = "containerd://" + rs.Id
			cs.ImageID = rs.ImageRef
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	n := len(pod.Spec.Containers)
	switch {
	case initFailed:
		st.Phase = corev1.PodFailed
	case !initDone:
		st.Phase = corev1.PodPending
	case running == n:
		st.Phase = corev1.PodRunning
	case succeeded == n && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		st.Phase = corev1.PodSucceeded
	case succeeded+failed == n && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && failed > 0:
		st.Phase = corev1.PodFailed
	case running > 0:
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	now := metav1.Now()
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: t, Status: s}
		// Keep the transition time when the status did not change.
		c.LastTransitionTime = now
		for _, old := range pod.Status.Conditions {
			if old.Type == t && old.Status == s {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	ready := running == n
	st.Conditions = []corev1.PodCondition{cond(corev1.PodReadyToStartContainers, sandboxReady), cond(corev1.PodInitialized, initDone),
		cond(corev1.ContainersReady, ready), cond(corev1.PodReady, ready)}
	return st
}

// terminatedState reports an exited container as upstream does: Completed or Error unless the runtime gave a
// reason (OOMKilled, ...).
func terminatedState(rs *runtimeapi.ContainerStatus) *corev1.ContainerStateTerminated {
	reason := rs.Reason
	if reason == "" {
		reason = "Completed"
		if rs.ExitCode != 0 {
			reason = "Error"
		}
	}
	return &corev1.ContainerStateTerminated{ExitCode: rs.ExitCode, Reason: reason, Message: rs.Message,
		StartedAt: nanoTime(rs.StartedAt), FinishedAt: nanoTime(rs.FinishedAt), ContainerID: "containerd://" + rs.Id}
}

func ptrTrue() *bool  { b := true; return &b }
func ptrFalse() *bool { b := false; return &b }
