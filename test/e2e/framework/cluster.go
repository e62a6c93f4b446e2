package framework

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	remote "k8s.io/cri-client/pkg"
)

// Options choose how the server runs.
type Options struct {
	// EtcdServers, when set, makes the server use that external etcd instead of its embedded one.
	EtcdServers []string
	ExtraArgs   []string
	// Agent runs the node agent (containerd and pods; needs root). Off by default, so control-plane tests see
	// no node but the ones they register.
	Agent bool
	// Images are tarballs copied into <data-dir>/agent/images, imported when the agent starts.
	Images []string
}

// Cluster is one running `skiff server`.
type Cluster struct {
	t          testing.TB
	Bin        string
	DataDir    string
	Kubeconfig string
	Port       int
	opts       Options
	etcdPorts  [2]int
	// portRetries counts restarts after a port turned out to be taken.
	portRetries int
	kubeletPort int

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}

	Config *rest.Config
	Client kubernetes.Interface
}

// Binary returns the skiff binary under test: $SKIFF_BIN, or one built once into a temp dir.
func Binary(t testing.TB) string {
	if b := os.Getenv("SKIFF_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "skiff")
		root := repoRoot()
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/skiff")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs a server in a fresh data dir and waits until it is ready. It is stopped and cleaned up when the
// test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, Bin: Binary(t), DataDir: dir, Kubeconfig: filepath.Join(dir, "admin.kubeconfig"),
		Port: FreePort(t), opts: opts, etcdPorts: [2]int{FreePort(t), FreePort(t)}, kubeletPort: FreePort(t)}
	var agentLock *os.File
	if opts.Agent {
		NeedRoot(t)
		// Clusters with a node agent share the host's skiff0 bridge and pod subnet: one at a time on this
		// machine, across test processes too.
		agentLock = lockAgent(t)
		imgDir := filepath.Join(dir, "agent", "images")
		if err := os.MkdirAll(imgDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, img := range opts.Images {
			data, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(imgDir, filepath.Base(img)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		if opts.Agent {
			c.removeAllPods(c.DataDir)
		}
		c.Stop()
		if opts.Agent {
			killShims(filepath.Join(dir, "agent", "containerd", "containerd.sock"))
			unmountUnder(dir)
			_ = exec.Command("ip", "link", "del", "skiff0").Run()
			// The service proxy leaves its table on exit (as upstream, for restarts): remove it here.
			_ = exec.Command("nft", "delete", "table", "ip", "skiff-proxy").Run()
			// So do the pod network's source NAT and overlay (device, and routes of protocol 90 = skiff).
			_ = exec.Command("nft", "delete", "table", "ip", "skiff-podnet").Run()
			_ = exec.Command("ip", "link", "del", "skiff.vxlan").Run()
			_ = exec.Command("ip", "route", "flush", "proto", "90").Run()
			// Likewise the NetworkPolicy table (kept on exit so pods stay isolated while skiff restarts).
			_ = exec.Command("nft", "delete", "table", "inet", "skiff-policy").Run()
			_ = agentLock.Close() // releases the lock
		}
		if t.Failed() {
			t.Logf("server log:\n%s", c.Logs())
		} else if denied := componentDenials(c.Logs()); denied != "" {
			// An in-process component refused by RBAC lacks a rule in its default role (see go test -v).
			t.Logf("component requests forbidden:\n%s", denied)
		}
		os.RemoveAll(dir)
	})
	c.startProcess(t)
	return c
}

func (c *Cluster) startProcess(t testing.TB) {
	t.Helper()
	args := []string{"server", "--data-dir", c.DataDir, "--https-port", strconv.Itoa(c.Port), "--bind-address", "127.0.0.1",
		"--etcd-client-port", strconv.Itoa(c.etcdPorts[0]), "--etcd-peer-port", strconv.Itoa(c.etcdPorts[1])}
	if len(c.opts.EtcdServers) > 0 {
		args = append(args, "--etcd-servers", strings.Join(c.opts.EtcdServers, ","))
	}
	if !c.opts.Agent {
		args = append(args, "--disable-agent")
	} else {
		args = append(args, "--node-name", "skiff-e2e", "--node-ip", "127.0.0.1", "--kubelet-port", strconv.Itoa(c.kubeletPort))
	}
	args = append(args, c.opts.ExtraArgs...)
	cmd := exec.Command(c.Bin, args...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = syncWriter{&c.mu, logs}, syncWriter{&c.mu, logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c.mu.Lock()
	c.cmd, c.logs, c.done = cmd, logs, done
	c.mu.Unlock()
	if err := c.waitReady(60 * time.Second); err != nil {
		if strings.Contains(c.Logs(), "address already in use") && c.portRetries < 3 {
			// FreePort is racy: another process took a port between our check and the server's listen.
			c.portRetries++
			c.Port, c.etcdPorts = FreePort(t), [2]int{FreePort(t), FreePort(t)}
			c.startProcess(t)
			return
		}
		t.Fatalf("server not ready: %v\n%s", err, c.Logs())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	c.Config = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Logs returns what the server printed.
func (c *Cluster) Logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logs == nil {
		return ""
	}
	return c.logs.String()
}

func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("server exited")
		default:
		}
		if strings.Contains(c.Logs(), "skiff server is ready") {
			tr := &http.Transport{TLSClientConfig: insecureTLS()}
			resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", c.Port))
			if err == nil {
				resp.Body.Close()
				// 401: --anonymous-auth=false refuses unauthenticated probes; the server answers, so it is up.
				if resp.StatusCode == 200 || resp.StatusCode == 401 {
					return nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %s", timeout)
}

// Stop sends SIGTERM and waits for a clean exit (SIGKILL after 20s).
func (c *Cluster) Stop() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// ExitCode returns the server's exit code after Stop.
func (c *Cluster) ExitCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.ProcessState == nil {
		return -1
	}
	return c.cmd.ProcessState.ExitCode()
}

// Restart stops the server and starts it again on the same data dir and ports.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.Stop()
	c.startProcess(t)
}

// Kubectl runs `skiff kubectl` with the cluster's kubeconfig.
func (c *Cluster) Kubectl(ctx context.Context, stdin string, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, c.Bin, append([]string{"kubectl", "--kubeconfig", c.Kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	cmd.Env = append(os.Environ(), "KUBECTL_INTERACTIVE_DELETE=false")
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// KubectlCmd returns an unstarted kubectl command (for long-running ones such as get -w).
func (c *Cluster) KubectlCmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, c.Bin, append([]string{"kubectl", "--kubeconfig", c.Kubeconfig}, args...)...)
}

// PID returns the server's process id.
func (c *Cluster) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// EtcdEndpoint is the embedded etcd's client URL (only meaningful without Options.EtcdServers).
func (c *Cluster) EtcdEndpoint() string {
	if len(c.opts.EtcdServers) > 0 {
		return c.opts.EtcdServers[0]
	}
	return fmt.Sprintf("http://127.0.0.1:%d", c.etcdPorts[0])
}

// removeAllPods deletes every pod and waits (up to 60 s) until the agent has torn them down and removed them,
// so no container, netns or mount outlives the test.
// dataDir is the node agent's (its containerd socket is under it).
func (c *Cluster) removeAllPods(dataDir string) {
	if c.Client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nss, err := c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	// Workload controllers would replace deleted pods: their objects go first.
	for _, ns := range nss.Items {
		n := ns.Name
		for _, del := range []func() error{
			func() error {
				return c.Client.AppsV1().Deployments(n).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			},
			func() error {
				return c.Client.AppsV1().ReplicaSets(n).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			},
			func() error {
				return c.Client.AppsV1().StatefulSets(n).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			},
			func() error {
				return c.Client.AppsV1().DaemonSets(n).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			},
			func() error {
				return c.Client.BatchV1().CronJobs(n).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			},
			func() error {
				return c.Client.BatchV1().Jobs(n).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			},
			func() error {
				return c.Client.CoreV1().ReplicationControllers(n).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			},
		} {
			_ = del()
		}
	}
	for _, ns := range nss.Items {
		_ = c.Client.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	}
	for ctx.Err() == nil {
		pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Finished pods leave the API at once, before their sandboxes are torn down: wait for the runtime too,
	// or the server stops mid-teardown and a network namespace is left behind.
	rs, err := remote.NewRemoteRuntimeService(ctx, "unix://"+filepath.Join(dataDir, "agent", "containerd", "containerd.sock"), 5*time.Second, nil, false)
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		if sbs, err := rs.ListPodSandbox(ctx, nil); err == nil && len(sbs) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// AgentLockPath is the lock clusters with a node agent hold while they exist.
const AgentLockPath = "/run/skiff-e2e-agent.lock"

// lockAgent waits for, then holds, the host-wide agent lock (flock, so a crashed holder releases it).
func lockAgent(t testing.TB) *os.File {
	t.Helper()
	f, err := os.OpenFile(AgentLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return f
}

// componentDenials returns the server's log lines about refused requests by in-process components.
func componentDenials(logs string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "request forbidden") && strings.Contains(l, "WARN") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
