package framework

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Agent is one running `skiff agent` joined to a Cluster (a node on this machine, in its own data dir).
type Agent struct {
	DataDir     string
	NodeName    string
	KubeletPort int
	bin         string

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

// StartAgent starts `skiff agent` as a separate process, holding the host-wide agent lock (it shares the
// skiff0 bridge and pod subnet with every other node agent on this machine), with the images copied into its
// data dir. args are the join command's (--server, --token, --discovery-token-ca-cert-hash); StartAgent adds
// the data dir, node name, --node-ip 127.0.0.1 and a free kubelet port. When the test ends, the cluster's pods are deleted and torn down, the agent is stopped by its PID,
// and what it leaves on the host (shims, mounts, skiff0, nftables tables) is removed, as for server agents.
func StartAgent(t testing.TB, c *Cluster, nodeName string, images []string, args ...string) *Agent {
	t.Helper()
	NeedRoot(t)
	lock := lockAgent(t)
	dir, err := os.MkdirTemp("", "skiff-e2e-agent-")
	if err != nil {
		t.Fatal(err)
	}
	imgDir := filepath.Join(dir, "agent", "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, img := range images {
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(imgDir, filepath.Base(img)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := &Agent{DataDir: dir, NodeName: nodeName, KubeletPort: FreePort(t), logs: &bytes.Buffer{}}
	t.Cleanup(func() {
		c.removeAllPods(dir)
		a.Stop()
		killShims(filepath.Join(dir, "agent", "containerd", "containerd.sock"))
		unmountUnder(dir)
		_ = exec.Command("ip", "link", "del", "skiff0").Run()
		_ = exec.Command("nft", "delete", "table", "ip", "skiff-podnet").Run()
		_ = exec.Command("nft", "delete", "table", "ip", "skiff-proxy").Run()
		_ = exec.Command("nft", "delete", "table", "inet", "skiff-policy").Run()
		_ = lock.Close()
		if t.Failed() {
			t.Logf("agent log:\n%s", a.Logs())
		}
		os.RemoveAll(dir)
	})
	a.bin = c.Bin
	a.start(t, args)
	return a
}

// Restart stops the agent and starts it again on the same data dir and port with args (e.g. without the
// token: a joined node reuses its credentials).
func (a *Agent) Restart(t testing.TB, args ...string) {
	t.Helper()
	a.Stop()
	a.start(t, args)
}

func (a *Agent) start(t testing.TB, args []string) {
	t.Helper()
	all := append([]string{"agent", "--data-dir", a.DataDir, "--node-name", a.NodeName, "--node-ip", "127.0.0.1",
		"--kubelet-port", strconv.Itoa(a.KubeletPort)}, args...)
	cmd := exec.Command(a.bin, all...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = syncWriter{&a.mu, logs}, syncWriter{&a.mu, logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	a.mu.Lock()
	a.cmd, a.logs, a.done = cmd, logs, done
	a.mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(a.Logs(), "skiff agent is ready") {
		select {
		case <-done:
			t.Fatalf("skiff agent exited:\n%s", a.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("skiff agent not ready after 90s:\n%s", a.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Logs returns what the agent printed.
func (a *Agent) Logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logs.String()
}

// Stop sends SIGTERM to the agent's PID and waits for it to exit (SIGKILL after 20 s).
func (a *Agent) Stop() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// RunAgentExpectingFailure runs `skiff agent` with args in a fresh data dir and returns its exit code and
// output; it is killed (by PID) after timeout. For joins that must be refused before any node starts.
func RunAgentExpectingFailure(t testing.TB, c *Cluster, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, append([]string{"agent", "--data-dir", dir, "--node-name", "refused", "--node-ip", "127.0.0.1",
		"--kubelet-port", strconv.Itoa(FreePort(t))}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("skiff agent still running after %s:\n%s", timeout, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}
