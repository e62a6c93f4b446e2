package pods

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// probeState tracks one probe of one container attempt.
type probeState struct {
	containerID string
	lastRun     time.Time
	successes   int32
	failures    int32
	ok          bool // the probe's current verdict (after thresholds)
}

// probes holds a container's startup, liveness and readiness probe states.
type probes struct {
	startup, liveness, readiness probeState
}

// runProbes evaluates the container's probes that are due, as upstream's prober: startup first (liveness and
// readiness wait for it), thresholds of consecutive results, periods, initial delays and timeouts. It reports
// readiness, and whether the container must be restarted (liveness or startup failed).
func (w *worker) runProbes(ctx context.Context, pod *corev1.Pod, c *corev1.Container, st *runtimeapi.ContainerStatus, podIP string, now time.Time) (ready, restart bool, why string) {
	ps := w.probes[c.Name]
	if ps == nil || ps.liveness.containerID != st.Id {
		// A new container attempt starts with fresh probe state.
		ps = &probes{startup: probeState{containerID: st.Id}, liveness: probeState{containerID: st.Id, ok: true}, readiness: probeState{containerID: st.Id}}
		w.probes[c.Name] = ps
	}
	started := time.Unix(0, st.StartedAt)
	step := func(p *corev1.Probe, s *probeState) (ran bool) {
		if p == nil {
			s.ok = true
			return false
		}
		period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
		if now.Sub(started) < time.Duration(p.InitialDelaySeconds)*time.Second || now.Sub(s.lastRun) < period {
			return false
		}
		s.lastRun = now
		ok, msg := w.probeOnce(ctx, pod, c, st.Id, p, podIP)
		if !ok {
			// As upstream: every failed probe is a Warning event (the recorder folds repeats into a count).
			w.event(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind(p, c), msg)
		}
		if ok {
			s.successes++
			s.failures = 0
			if s.successes >= max(p.SuccessThreshold, 1) {
				s.ok = true
			}
		} else {
			s.failures++
			s.successes = 0
			if s.failures >= max(p.FailureThreshold, 1) {
				s.ok = false
			}
		}
		return true
	}
	if c.StartupProbe != nil && !ps.startup.ok {
		if step(c.StartupProbe, &ps.startup) && ps.startup.failures >= max(c.StartupProbe.FailureThreshold, 1) {
			return false, true, fmt.Sprintf("Container %s failed startup probe, will be restarted", c.Name)
		}
		if !ps.startup.ok {
			return false, false, ""
		}
	}
	if step(c.LivenessProbe, &ps.liveness) && !ps.liveness.ok {
		return false, true, fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)
	}
	if c.ReadinessProbe == nil {
		return true, false, ""
	}
	step(c.ReadinessProbe, &ps.readiness)
	return ps.readiness.ok, false, ""
}

// probeOnce runs one probe: exec through CRI, HTTP GET, a TCP connection or a gRPC health check against the
// pod. On failure it says why, in upstream's words.
func (w *worker) probeOnce(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, p *corev1.Probe, podIP string) (bool, string) {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	switch {
	case p.Exec != nil:
		// A non-zero exit comes back as an error from the runtime client.
		stdout, stderr, err := w.cfg.Runtime.ExecSync(ctx, id, p.Exec.Command, timeout)
		if err != nil {
			// As upstream: the message is the command's output (empty if it printed nothing), unless the
			// command could not run at all.
			if _, ok := err.(interface{ ExitStatus() int }); ok {
				return false, strings.TrimSpace(string(stdout) + string(stderr))
			}
			return false, err.Error()
		}
		return true, ""
	case p.HTTPGet != nil:
		if err := httpGet(ctx, c, p.HTTPGet, podIP, timeout); err != nil {
			return false, err.Error()
		}
		return true, ""
	case p.TCPSocket != nil:
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port(c, p.TCPSocket.Port)))
		conn, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return false, fmt.Sprintf("dial tcp %s: %v", addr, errors.Unwrap(err))
		}
		conn.Close()
		return true, ""
	case p.GRPC != nil:
		return grpcProbe(ctx, podIP, p.GRPC, timeout)
	}
	return false, "probe has no handler"
}

// grpcProbe asks the pod's gRPC health service (grpc.health.v1.Health/Check) as upstream's gRPC prober:
// SERVING succeeds, anything else fails.
func grpcProbe(ctx context.Context, podIP string, a *corev1.GRPCAction, timeout time.Duration) (bool, string) {
	addr := net.JoinHostPort(podIP, strconv.Itoa(int(a.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent("kube-probe/1.37"))
	if err != nil {
		return false, fmt.Sprintf("failed to connect service %q: %v", addr, err)
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	service := ""
	if a.Service != nil {
		service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(true))
	if err != nil {
		if cctx.Err() != nil {
			return false, fmt.Sprintf("timeout: failed to connect service %q within %s: %v", addr, timeout, err)
		}
		return false, fmt.Sprintf("error: health rpc probe failed: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus().String())
	}
	return true, ""
}

// httpGet performs a probe's or hook's HTTP GET against the pod (or the action's host); 2xx and 3xx succeed.
func httpGet(ctx context.Context, c *corev1.Container, a *corev1.HTTPGetAction, podIP string, timeout time.Duration) error {
	host := a.Host
	if host == "" {
		host = podIP
	}
	scheme := "http"
	if a.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port(c, a.Port))), a.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	for _, h := range a.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := (&http.Client{Timeout: timeout, Transport: probeTransport}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// kind names the probe as events do: Startup, Liveness or Readiness.
func kind(p *corev1.Probe, c *corev1.Container) string {
	switch p {
	case c.StartupProbe:
		return "Startup"
	case c.LivenessProbe:
		return "Liveness"
	}
	return "Readiness"
}

// probeTransport does not keep connections: each probe is a fresh connection, as upstream's.
var probeTransport = &http.Transport{DisableKeepAlives: true}

// port resolves a numeric or named container port.
func port(c *corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}
