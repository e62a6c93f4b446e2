package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// Config says where and how containerd runs.
type Config struct {
	// Binary is the containerd executable (default: containerd on PATH).
	Binary string
	// Dir holds the config, socket, root and state (e.g. <data-dir>/agent/containerd).
	Dir string
	// SandboxImage is the pause image; it must be imported, since no registry may be reachable.
	SandboxImage string
	// CNIBinDir and CNIConfDir configure pod networking (Debian puts the plugins in /usr/lib/cni).
	CNIBinDir, CNIConfDir string
	// Log receives containerd's output (default: discarded).
	Log io.Writer
}

// Containerd is a supervised containerd process.
type Containerd struct {
	cfg    Config
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	stop   chan struct{}
}

// Socket returns the path of containerd's gRPC socket.
func (c *Containerd) Socket() string { return filepath.Join(c.cfg.Dir, "containerd.sock") }

// Endpoint returns the CRI endpoint URL.
func (c *Containerd) Endpoint() string { return "unix://" + c.Socket() }

var configTemplate = template.Must(template.New("config").Parse(`version = 2
root = "{{.Dir}}/root"
state = "{{.Dir}}/state"

[grpc]
  address = "{{.Dir}}/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{.SandboxImage}}"
  # This VM lacks CAP_SYS_RESOURCE: negative oom_score_adj values would make runc fail.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{.CNIBinDir}}"
    conf_dir = "{{.CNIConfDir}}"
`))

// Start writes the configuration, starts containerd and waits until its socket answers.
func Start(ctx context.Context, cfg Config) (*Containerd, error) {
	if cfg.Binary == "" {
		cfg.Binary = "containerd"
	}
	if cfg.SandboxImage == "" {
		cfg.SandboxImage = "registry.k8s.io/pause:3.10"
	}
	if cfg.CNIBinDir == "" {
		cfg.CNIBinDir = "/usr/lib/cni"
	}
	if cfg.CNIConfDir == "" {
		cfg.CNIConfDir = filepath.Join(cfg.Dir, "cni", "net.d")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if _, err := exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("containerd not found (apt-get install containerd runc, or pass a CRI endpoint): %w", err)
	}
	for _, d := range []string{cfg.Dir, cfg.CNIConfDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	f, err := os.Create(filepath.Join(cfg.Dir, "config.toml"))
	if err != nil {
		return nil, err
	}
	err = configTemplate.Execute(f, cfg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("containerd config: %w", err)
	}
	c := &Containerd{cfg: cfg, stop: make(chan struct{})}
	c.mu.Lock()
	err = c.launchLocked()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, 30*time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	go c.supervise()
	return c, nil
}

// launchLocked starts a containerd process; c.mu is held, so Stop cannot miss it.
func (c *Containerd) launchLocked() error {
	_ = os.Remove(c.Socket())
	cmd := exec.Command(c.cfg.Binary, "--config", filepath.Join(c.cfg.Dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = c.cfg.Log, c.cfg.Log
	// Its own process group: a terminal's Ctrl-C reaches skiff, which then stops containerd in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	c.cmd, c.exited = cmd, exited
	return nil
}

func (c *Containerd) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		exited := c.exited
		c.mu.Unlock()
		select {
		case <-exited:
			return errors.New("containerd exited during start (see its log)")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if conn, err := net.DialTimeout("unix", c.Socket(), time.Second); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("containerd socket %s not ready after %s", c.Socket(), timeout)
}

// supervise restarts containerd when it exits unexpectedly, backing off up to 30 s between attempts.
func (c *Containerd) supervise() {
	backoff := time.Second
	for {
		c.mu.Lock()
		exited := c.exited
		c.mu.Unlock()
		select {
		case <-c.stop:
			return
		case <-exited:
		}
		slog.Warn("containerd exited; restarting", "backoff", backoff.String())
		select {
		case <-c.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		c.mu.Lock()
		select {
		case <-c.stop:
			c.mu.Unlock()
			return
		default:
		}
		err := c.launchLocked()
		c.mu.Unlock()
		if err != nil {
			slog.Error("containerd restart failed", "err", err)
			continue
		}
		if err := c.waitReady(context.Background(), 30*time.Second); err == nil {
			backoff = time.Second
		}
	}
}

// PID returns the current containerd process id.
func (c *Containerd) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Stop terminates containerd (SIGTERM, then SIGKILL after 10 s) and stops supervising it. Running containers
// keep running under their shims.
func (c *Containerd) Stop() {
	c.mu.Lock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
}
