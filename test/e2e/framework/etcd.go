package framework

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Etcd is an external etcd process (Debian's etcd-server) for tests of --etcd-servers.
type Etcd struct {
	Endpoint string
	cmd      *exec.Cmd
}

// StartEtcd runs a single-member etcd in a temp dir on free loopback ports. It skips the test when no etcd
// binary is installed, unless CI is set: CI must run every test.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("etcd not installed (make deps installs etcd-server)")
		}
		t.Skip("etcd not installed; `make deps` installs it")
	}
	dir, err := os.MkdirTemp("", "skiff-e2e-etcd-")
	if err != nil {
		t.Fatal(err)
	}
	client, peer := FreePort(t), FreePort(t)
	cu := "http://127.0.0.1:" + strconv.Itoa(client)
	pu := "http://127.0.0.1:" + strconv.Itoa(peer)
	cmd := exec.Command(bin, "--data-dir", dir, "--name", "e2e",
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu, "--initial-cluster", "e2e="+pu,
		"--experimental-watch-progress-notify-interval", "5s")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+"")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &Etcd{Endpoint: cu, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(client), time.Second); err == nil {
			conn.Close()
			return e
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(fmt.Errorf("etcd did not start:\n%s", logs.String()))
	return nil
}
