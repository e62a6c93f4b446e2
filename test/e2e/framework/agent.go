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
	a := &Agent{DataDir: dir, NodeName: nodeName, KubeletPort: FreePort(t), logs: &bytes.Buffer{}, done: make(chan struct{})}
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
	all := append([]string{"agent", "--data-dir", dir, "--node-name", nodeName, "--node-ip", "127.0.0.1",
		"--kubelet-port", strconv.Itoa(a.KubeletPort)}, args...)
	a.cmd = exec.Command(c.Bin, all...)
	a.cmd.Stdout, a.cmd.Stderr = syncWriter{&a.mu, a.logs}, syncWriter{&a.mu, a.logs}
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(a.Logs(), "skiff agent is ready") {
		select {
		case <-a.done:
			t.Fatalf("skiff agent exited:\n%s", a.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("skiff agent not ready after 90s:\n%s", a.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return a
}

// Logs returns what the agent printed.
func (a *Agent) Logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logs.String()
}

// Stop sends SIGTERM to the agent's PID and waits for it to exit (SIGKILL after 20 s).
func (a *Agent) Stop() {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
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
