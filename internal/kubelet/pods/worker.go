package pods

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// worker owns one pod.
type worker struct {
	cfg      Config
	mu       sync.Mutex
	pod      *corev1.Pod
	wake     chan struct{}
	done     chan struct{}
	once     sync.Once
	sandbox  string
	sbConfig *runtimeapi.PodSandboxConfig
	// attempts counts starts per container name (restartCount is attempts-1).
	attempts    map[string]uint32
	current     map[string]string // container name -> CRI id of its latest attempt
	lastStatus  *corev1.PodStatus
	started     metav1.Time
	backoff     *backoff
	pullBackoff *pullBackoff
	// lastTerminated is each container's previous attempt, for lastState.
	lastTerminated map[string]*runtimeapi.ContainerStatus
	waiting        map[string]*corev1.ContainerStateWaiting
	gone           bool // the pod object was deleted from the API
	initDone       bool
	probes         map[string]*probes
	// unready lists running containers whose readiness (or startup) probe does not pass.
	unready map[string]bool
	// volumesSynced is when ConfigMap/Secret volumes were last brought up to date.
	volumesSynced time.Time
	// tokens caches projected service account tokens by path until they are due for refresh.
	tokens map[string]cachedToken
}

func newWorker(cfg Config, pod *corev1.Pod) *worker {
	return &worker{cfg: cfg, pod: pod, wake: make(chan struct{}, 1), done: make(chan struct{}),
		attempts: map[string]uint32{}, current: map[string]string{}, backoff: newBackoff(), pullBackoff: &pullBackoff{until: map[string]time.Time{}, delay: map[string]time.Duration{}, lastErr: map[string]string{}},
		lastTerminated: map[string]*runtimeapi.ContainerStatus{}, probes: map[string]*probes{}, unready: map[string]bool{}}
}

// event records a pod event, as upstream's kubelet words them.
func (w *worker) event(pod *corev1.Pod, typ, reason, format string, args ...any) {
	if w.cfg.Recorder != nil {
		// Core v1 events, as upstream's kubelet records them: repeats of one event (a probe failing every
		// period) fold into one event with a count.
		w.cfg.Recorder.Eventf(pod, typ, reason, format, args...)
	}
}

func (w *worker) setPod(p *corev1.Pod) {
	w.mu.Lock()
	w.pod = p
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) stop() { w.once.Do(func() { close(w.done) }) }

func (w *worker) markGone() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run(ctx context.Context) {
	t := time.NewTicker(w.cfg.SyncInterval)
	defer t.Stop()
	for {
		w.mu.Lock()
		pod, gone := w.pod, w.gone
		w.mu.Unlock()
		if gone {
			if w.teardownRuntime(ctx, pod) {
				return
			}
		} else if finished := w.sync(ctx, pod); finished {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case <-w.wake:
		case <-t.C:
		}
	}
}

// sync moves the pod one step towards its spec; it reports true once the pod is torn down and removed.
func (w *worker) sync(ctx context.Context, pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil {
		return w.teardown(ctx, pod)
	}
	if w.sandbox == "" {
		w.adopt(ctx, pod)
	}
	if w.sandbox == "" {
		if err := w.runSandbox(ctx, pod); err != nil {
			logErr(pod, "sandbox", err)
			w.report(ctx, pod, map[string]*runtimeapi.ContainerStatus{}, "")
			return false
		}
	}
	statuses := map[string]*runtimeapi.ContainerStatus{}
	waiting := map[string]*corev1.ContainerStateWaiting{}
	now := time.Now()
	if now.Sub(w.volumesSynced) >= volumeSyncInterval {
		if err := w.setupVolumes(ctx, pod); err != nil && !w.volumesSynced.IsZero() {
			// A refresh (ConfigMap edit, token renewal) that fails keeps the files already there: the
			// containers run on; the next sync tries again.
			logErr(pod, "volumes", err)
		} else if err != nil {
			// No container starts without its volumes.
			for _, c := range pod.Spec.Containers {
				waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
			}
			w.waiting = waiting
			w.report(ctx, pod, map[string]*runtimeapi.ContainerStatus{}, "")
			return false
		}
		w.volumesSynced = now
	}
	podIP := ""
	if ss, err := w.cfg.Runtime.PodSandboxStatus(ctx, w.sandbox, false); err == nil && ss.Status.Network != nil {
		podIP = ss.Status.Network.Ip
	}
	// Init containers run one at a time, in order; sidecars (restartPolicy Always) start and keep running.
	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		st := w.syncContainer(ctx, pod, c, podIP, now, waiting, func(st *runtimeapi.ContainerStatus) bool {
			if sidecar {
				return true
			}
			return st.ExitCode != 0 && pod.Spec.RestartPolicy != corev1.RestartPolicyNever
		})
		if st != nil {
			statuses[c.Name] = st
		}
		if sidecar && st != nil && st.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if st == nil || st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 0 {
			initDone = false
			break
		}
	}
	if initDone {
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			st := w.syncContainer(ctx, pod, c, podIP, now, waiting, func(st *runtimeapi.ContainerStatus) bool { return w.shouldRestart(pod, st) })
			if st == nil {
				continue
			}
			statuses[c.Name] = st
			delete(w.unready, c.Name)
			if st.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
				ready, restart, why := w.runProbes(ctx, pod, c, st, podIP, now)
				if !ready {
					w.unready[c.Name] = true
				}
				if restart {
					logErr(pod, "probe", fmt.Errorf("%s", why))
					w.event(pod, corev1.EventTypeNormal, "Killing", "%s", why)
					grace := int64(30)
					if pod.Spec.TerminationGracePeriodSeconds != nil {
						grace = *pod.Spec.TerminationGracePeriodSeconds
					}
					_ = w.cfg.Runtime.StopContainer(ctx, st.Id, grace)
				}
			}
		}
	}
	w.initDone = initDone
	w.waiting = waiting
	w.report(ctx, pod, statuses, podIP)
	return false
}

// syncContainer starts a container that has not run, or restarts an exited one when restartable says so and
// its back-off allows; it records why a container waits and returns its current runtime status.
func (w *worker) syncContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP string, now time.Time,
	waiting map[string]*corev1.ContainerStateWaiting, restartable func(*runtimeapi.ContainerStatus) bool) *runtimeapi.ContainerStatus {
	st := w.containerStatus(ctx, c.Name)
	restart := st == nil
	if st != nil && st.State == runtimeapi.ContainerState_CONTAINER_EXITED && restartable(st) {
		if wait := w.backoff.wait(c.Name, st, now); wait > 0 {
			if prev := w.waiting[c.Name]; prev == nil || prev.Reason != "CrashLoopBackOff" {
				w.event(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
			}
			waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", w.backoff.current(c.Name), c.Name, pod.Name, pod.Namespace, pod.UID)}
		} else {
			restart = true
		}
	}
	if restart {
		if wait := w.pullBackoff.waitFrom(c.Name, now); wait > 0 {
			waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
				Message: fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.Image, w.pullBackoff.lastErr[c.Name])}
			restart = false
		}
	}
	if restart {
		if st != nil {
			w.lastTerminated[c.Name] = st
		}
		var pe *pullError
		var ce *configError
		switch err := w.startContainer(ctx, pod, c, podIP); {
		case errors.As(err, &pe):
			w.pullBackoff.failed(c.Name, now, pe.msg)
			waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: pe.msg}
		case errors.As(err, &ce):
			w.event(pod, corev1.EventTypeWarning, "Failed", "Error: %s", ce.msg)
			waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: ce.msg}
		case err != nil:
			waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerError", Message: err.Error()}
			logErr(pod, "container "+c.Name, err)
		default:
			w.pullBackoff.reset(c.Name)
		}
		st = w.containerStatus(ctx, c.Name)
	}
	return st
}

func (w *worker) shouldRestart(pod *corev1.Pod, st *runtimeapi.ContainerStatus) bool {
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return st.ExitCode != 0
	}
	return true
}

func (w *worker) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(w.cfg.LogDir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// adopt takes over the sandbox and containers a previous run of the agent left running for this pod, so a
// restart of skiff does not restart pods.
func (w *worker) adopt(ctx context.Context, pod *corev1.Pod) {
	sbs, err := w.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": string(pod.UID)}})
	if err != nil || len(sbs) == 0 {
		return
	}
	w.sandbox, w.sbConfig = sbs[0].Id, w.sandboxConfig(pod)
	w.started = metav1.NewTime(time.Unix(0, sbs[0].CreatedAt))
	ctrs, err := w.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: w.sandbox})
	if err != nil {
		return
	}
	for _, c := range ctrs {
		name := c.Metadata.Name
		if _, ok := w.current[name]; !ok || c.Metadata.Attempt >= w.attempts[name] {
			w.current[name], w.attempts[name] = c.Id, c.Metadata.Attempt
		}
	}
}

func (w *worker) sandboxConfig(pod *corev1.Pod) *runtimeapi.PodSandboxConfig {
	network := runtimeapi.NamespaceMode_POD
	if pod.Spec.HostNetwork {
		network = runtimeapi.NamespaceMode_NODE
	}
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID)},
		Hostname:     hostname,
		DnsConfig:    w.dnsConfig(pod),
		LogDirectory: w.podLogDir(pod),
		Labels:       map[string]string{"io.kubernetes.pod.name": pod.Name, "io.kubernetes.pod.namespace": pod.Namespace, "io.kubernetes.pod.uid": string(pod.UID)},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: network}}},
	}
}

func (w *worker) runSandbox(ctx context.Context, pod *corev1.Pod) error {
	logDir := w.podLogDir(pod)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	cfg := w.sandboxConfig(pod)
	id, err := w.cfg.Runtime.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		return err
	}
	w.sandbox, w.sbConfig, w.started = id, cfg, metav1.Now()
	return nil
}

func (w *worker) containerStatus(ctx context.Context, name string) *runtimeapi.ContainerStatus {
	id, ok := w.current[name]
	if !ok {
		return nil
	}
	resp, err := w.cfg.Runtime.ContainerStatus(ctx, id, false)
	if err != nil {
		return nil
	}
	return resp.Status
}

func (w *worker) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) error {
	spec := &runtimeapi.ImageSpec{Image: c.Image}
	if c.ImagePullPolicy != corev1.PullAlways {
		if st, err := w.cfg.Images.ImageStatus(ctx, spec, false); err == nil && st.Image != nil {
			w.event(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
			return nil
		}
		if c.ImagePullPolicy == corev1.PullNever {
			err := fmt.Errorf("ErrImageNeverPull: container image %q is not present with pull policy of Never", c.Image)
			w.event(pod, corev1.EventTypeWarning, "ErrImageNeverPull", "%v", err)
			return err
		}
	}
	w.event(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	// With pull secrets that apply, each is tried in turn (as upstream); without, the pull is anonymous.
	auths := authsFor(c.Image, w.pullSecrets(ctx, pod))
	if len(auths) == 0 {
		auths = []*runtimeapi.AuthConfig{nil}
	}
	var err error
	for _, auth := range auths {
		if _, err = w.cfg.Images.PullImage(ctx, spec, auth, w.sbConfig); err == nil {
			break
		}
	}
	if err != nil {
		w.event(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		return err
	}
	w.event(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, time.Since(start).Round(time.Millisecond))
	return nil
}

// volumeSyncInterval is how often ConfigMap and Secret volumes are refreshed from the API.
const volumeSyncInterval = 5 * time.Second

// pullError is an image that could not be pulled (ErrImagePull, then ImagePullBackOff).
type pullError struct{ msg string }

func (e *pullError) Error() string { return e.msg }

func (w *worker) startContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP string) error {
	if err := w.ensureImage(ctx, pod, c); err != nil {
		return &pullError{msg: err.Error()}
	}
	env, vars, err := w.buildEnv(ctx, pod, c, podIP)
	if err != nil {
		return err
	}
	mounts, err := w.mounts(pod, c)
	if err != nil {
		return err
	}
	attempt := w.attempts[c.Name]
	if old, ok := w.current[c.Name]; ok {
		attempt++
		_ = w.cfg.Runtime.RemoveContainer(ctx, old)
	}
	if err := os.MkdirAll(filepath.Join(w.podLogDir(pod), c.Name), 0o755); err != nil {
		return err
	}
	id, err := w.cfg.Runtime.CreateContainer(ctx, w.sandbox, &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: attempt},
		Image:      &runtimeapi.ImageSpec{Image: c.Image},
		Command:    expandAll(c.Command, vars),
		Args:       expandAll(c.Args, vars),
		WorkingDir: c.WorkingDir,
		Envs:       env,
		Mounts:     mounts,
		Linux:      &runtimeapi.LinuxContainerConfig{Resources: resources(c)},
		LogPath:    filepath.Join(c.Name, fmt.Sprintf("%d.log", attempt)),
		Labels: map[string]string{"io.kubernetes.container.name": c.Name, "io.kubernetes.pod.uid": string(pod.UID),
			"io.kubernetes.pod.name": pod.Name, "io.kubernetes.pod.namespace": pod.Namespace},
		Stdin:     c.Stdin,
		StdinOnce: c.StdinOnce,
		Tty:       c.TTY,
	}, w.sbConfig)
	if err != nil {
		return err
	}
	w.attempts[c.Name], w.current[c.Name] = attempt, id
	w.event(pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	if err := w.cfg.Runtime.StartContainer(ctx, id); err != nil {
		w.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return err
	}
	w.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		// A failed postStart hook kills the container, which then restarts per restartPolicy, as upstream.
		if err := w.runHook(ctx, c, id, c.Lifecycle.PostStart, podIP, 30*time.Second); err != nil {
			logErr(pod, "postStart hook of "+c.Name, err)
			_ = w.cfg.Runtime.StopContainer(ctx, id, 0)
		}
	}
	return nil
}

// teardown stops the containers within the grace period, removes the sandbox and then the pod object.
func (w *worker) teardown(ctx context.Context, pod *corev1.Pod) bool {
	if !w.teardownRuntime(ctx, pod) {
		return false
	}
	zero := int64(0)
	err := w.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
		Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		logErr(pod, "delete pod", err)
		return false
	}
	return true
}

// teardownRuntime stops and removes the pod's containers and sandbox (network included) and its logs.
func (w *worker) teardownRuntime(ctx context.Context, pod *corev1.Pod) bool {
	if w.sandbox == "" {
		w.adopt(ctx, pod)
	}
	grace := int64(30)
	if pod.DeletionGracePeriodSeconds != nil {
		grace = *pod.DeletionGracePeriodSeconds
	}
	deadline := time.Now().Add(time.Duration(grace) * time.Second)
	// preStop hooks run first, within the grace period; SIGTERM then gets what is left of it.
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		id, ok := w.current[c.Name]
		if !ok || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || grace == 0 {
			continue
		}
		if st := w.containerStatus(ctx, c.Name); st == nil || st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if err := w.runHook(ctx, c, id, c.Lifecycle.PreStop, pod.Status.PodIP, time.Until(deadline)); err != nil {
			logErr(pod, "preStop hook of "+c.Name, err)
		}
	}
	if left := int64(time.Until(deadline).Seconds()); left < grace {
		grace = max(left, 1)
	}
	for name := range w.current {
		w.event(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", name)
	}
	// All containers get SIGTERM at once and share the grace period.
	var wg sync.WaitGroup
	for _, id := range w.current {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if err := w.cfg.Runtime.StopContainer(ctx, id, grace); err != nil {
				logErr(pod, "stop container", err)
			}
			_ = w.cfg.Runtime.RemoveContainer(ctx, id)
		}(id)
	}
	wg.Wait()
	if w.sandbox != "" {
		if err := w.cfg.Runtime.StopPodSandbox(ctx, w.sandbox); err != nil {
			logErr(pod, "stop sandbox", err)
			return false
		}
		if err := w.cfg.Runtime.RemovePodSandbox(ctx, w.sandbox); err != nil {
			logErr(pod, "remove sandbox", err)
			return false
		}
		w.sandbox = ""
	}
	w.current = map[string]string{}
	w.unmountVolumes(pod)
	_ = os.RemoveAll(w.podLogDir(pod))
	return true
}

// report writes the pod status when it changed.
func (w *worker) report(ctx context.Context, pod *corev1.Pod, statuses map[string]*runtimeapi.ContainerStatus, ip string) {
	st := computeStatus(pod, statuses, w.attempts, ip, w.cfg.NodeIP, w.started, w.sandbox != "", w.initDone)
	all := make([]*corev1.ContainerStatus, 0, len(st.InitContainerStatuses)+len(st.ContainerStatuses))
	for i := range st.InitContainerStatuses {
		all = append(all, &st.InitContainerStatuses[i])
	}
	for i := range st.ContainerStatuses {
		all = append(all, &st.ContainerStatuses[i])
	}
	notReady := len(w.waiting) > 0
	for _, cs := range all {
		if w.unready[cs.Name] {
			cs.Ready = false
			notReady = true
		}
		if wt, ok := w.waiting[cs.Name]; ok {
			cs.State = corev1.ContainerState{Waiting: wt}
			cs.Ready = false
		}
		if lt := w.lastTerminated[cs.Name]; lt != nil {
			cs.LastTerminationState = corev1.ContainerState{Terminated: terminatedState(lt)}
		}
	}
	if notReady {
		for i := range st.Conditions {
			if st.Conditions[i].Type == corev1.ContainersReady || st.Conditions[i].Type == corev1.PodReady {
				st.Conditions[i].Status = corev1.ConditionFalse
			}
		}
	}
	if w.lastStatus != nil && apiequality.Semantic.DeepEqual(*w.lastStatus, st) {
		return
	}
	next := pod.DeepCopy()
	// Keep conditions others own (PodScheduled from the scheduler, DisruptionTarget, ...).
	for _, c := range pod.Status.Conditions {
		if !ownCondition(c.Type) {
			st.Conditions = append(st.Conditions, c)
		}
	}
	next.Status = st
	if _, err := w.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			logErr(pod, "status", err)
		}
		return
	}
	w.lastStatus = &st
}
