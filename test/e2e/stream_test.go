package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"skiff/test/e2e/framework"
)

// kubectlEnv runs kubectl with extra environment (e.g. to pick SPDY over WebSocket) and returns stdout,
// stderr and the exit code.
func kubectlEnv(t *testing.T, c *framework.Cluster, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := c.KubectlCmd(ctx, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// TestPodStreaming covers what users do with running containers through the API server and the node
// agent: exec (with stdin, exit codes and a terminal), cp, attach and port-forward, each over WebSocket (what
// kubectl negotiates by default) and over SPDY (older clients).
func TestPodStreaming(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	// The agent flags for reservations and eviction thresholds ride along (this cluster's node is otherwise
	// unused): pid.available<100% always holds, so the node reports PIDPressure. The node lifecycle controller
	// would taint it node.kubernetes.io/pid-pressure:NoSchedule, as upstream, and no pod here would schedule.
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{
		filepath.Join(imgDir, "busybox.tar"), filepath.Join(imgDir, "testserver.tar")},
		ExtraArgs: []string{"--kube-reserved=cpu=100m", "--system-reserved=memory=64Mi", "--eviction-hard=memory.available<100Mi,pid.available<100%",
			"--disable-controllers=nodelifecycle"}})
	ctx := context.Background()
	t.Run("NodePressureAndReservations", func(t *testing.T) {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, "skiff-e2e", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds := map[corev1.NodeConditionType]corev1.NodeCondition{}
		for _, cond := range n.Status.Conditions {
			conds[cond.Type] = cond
		}
		if p := conds[corev1.NodePIDPressure]; p.Status != corev1.ConditionTrue || p.Reason != "KubeletHasInsufficientPID" {
			t.Fatalf("PIDPressure: %+v", p)
		}
		if d := conds[corev1.NodeDiskPressure]; d.Status != corev1.ConditionFalse || d.Reason != "KubeletHasNoDiskPressure" {
			t.Fatalf("DiskPressure (no disk threshold given): %+v", d)
		}
		capCPU, allocCPU := n.Status.Capacity[corev1.ResourceCPU], n.Status.Allocatable[corev1.ResourceCPU]
		capMem, allocMem := n.Status.Capacity[corev1.ResourceMemory], n.Status.Allocatable[corev1.ResourceMemory]
		if capCPU.MilliValue()-allocCPU.MilliValue() != 100 || capMem.Value()-allocMem.Value() != (64+100)<<20 {
			t.Fatalf("capacity cpu %s memory %s, allocatable cpu %s memory %s", capCPU.String(), capMem.String(), allocCPU.String(), allocMem.String())
		}
		out := kubectl(t, c, "describe", "node", "skiff-e2e")
		mustContain(t, out, "PIDPressure", "KubeletHasInsufficientPID", "kubelet has insufficient PID available")
	})
	kubectl(t, c, "run", "shell", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--", "sleep", "3600")
	kubectl(t, c, "run", "web", "--image=skiff.local/testserver:1", "--image-pull-policy=Never", "--port=8080")
	kubectl(t, c, "wait", "--for=condition=Ready", "pod/shell", "pod/web", "--timeout=60s")

	protocols := map[string][]string{
		"WebSocket": nil,
		"SPDY":      {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"},
	}
	for name, env := range protocols {
		t.Run("Exec"+name, func(t *testing.T) {
			out, errOut, code := kubectlEnv(t, c, env, "", "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
			if out != "out\n" || !strings.Contains(errOut, "err\n") || code != 3 {
				t.Fatalf("exec: stdout %q stderr %q exit %d; want out, err, 3", out, errOut, code)
			}
			out, errOut, code = kubectlEnv(t, c, env, "line one\nline two\n", "exec", "-i", "shell", "--", "sh", "-c", "wc -l; hostname")
			if code != 0 || strings.Fields(out)[0] != "2" || !strings.Contains(out, "shell") {
				t.Fatalf("exec -i: stdout %q stderr %q exit %d", out, errOut, code)
			}
		})

		t.Run("Cp"+name, func(t *testing.T) {
			dir := t.TempDir()
			data := make([]byte, 256*1024)
			_, _ = rand.Read(data)
			src := filepath.Join(dir, "src.bin")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, errOut, code := kubectlEnv(t, c, env, "", "cp", src, "default/shell:/tmp/copied.bin"); code != 0 {
				t.Fatalf("cp to pod: exit %d: %s", code, errOut)
			}
			out, _, _ := kubectlEnv(t, c, env, "", "exec", "shell", "--", "md5sum", "/tmp/copied.bin")
			back := filepath.Join(dir, "back.bin")
			if _, errOut, code := kubectlEnv(t, c, env, "", "cp", "default/shell:/tmp/copied.bin", back); code != 0 {
				t.Fatalf("cp from pod: exit %d: %s", code, errOut)
			}
			got, err := os.ReadFile(back)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("round trip through the pod changed the file (%d bytes back, err %v); md5 in pod: %s", len(got), err, out)
			}
		})

		t.Run("PortForward"+name, func(t *testing.T) {
			pctx, cancel := context.WithCancel(ctx)
			defer cancel()
			cmd := c.KubectlCmd(pctx, "port-forward", "pod/web", ":8080")
			cmd.Env = append(os.Environ(), env...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); _ = cmd.Wait() }()
			re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)
			port := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if m := re.FindStringSubmatch(sc.Text()); m != nil {
						port <- m[1]
					}
				}
			}()
			var p string
			select {
			case p = <-port:
			case <-time.After(30 * time.Second):
				t.Fatalf("port-forward did not start: %s", errOut.String())
			}
			// Several requests, so several streams through one forwarding connection.
			for i := 0; i < 3; i++ {
				resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://127.0.0.1:" + p + "/hostname")
				if err != nil {
					t.Fatalf("request %d through port-forward: %v (kubectl: %s)", i, err, errOut.String())
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "web" {
					t.Fatalf("request %d through port-forward answered %q", i, b)
				}
			}
		})
	}

	t.Run("Terminal", func(t *testing.T) {
		// A terminal session through client-go, both protocols: the resize reaches the container's terminal.
		u := c.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("shell").SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Command: []string{"sh", "-c",
				`for i in 1 2 3 4 5 6 7 8 9 10; do s=$(stty size 2>/dev/null); [ "$s" = "37 101" ] && break; sleep 0.2; done; echo $s`},
				Stdout: true, TTY: true}, scheme.ParameterCodec).URL()
		ws, err := remotecommand.NewWebSocketExecutor(c.Config, "GET", u.String())
		if err != nil {
			t.Fatal(err)
		}
		sp, err := remotecommand.NewSPDYExecutor(c.Config, "POST", u)
		if err != nil {
			t.Fatal(err)
		}
		for name, e := range map[string]remotecommand.Executor{"WebSocket": ws, "SPDY": sp} {
			var out bytes.Buffer
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := e.StreamWithContext(sctx, remotecommand.StreamOptions{Stdout: &out, Tty: true, TerminalSizeQueue: &fixedSize{}})
			cancel()
			if err != nil || strings.TrimSpace(out.String()) != "37 101" {
				t.Fatalf("%s: stty size in a 101x37 terminal printed %q, err %v", name, out.String(), err)
			}
		}
		// A non-zero exit through client-go is an ExitError with the code.
		u = c.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("shell").SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Command: []string{"sh", "-c", "exit 7"}, Stdout: true}, scheme.ParameterCodec).URL()
		ws, _ = remotecommand.NewWebSocketExecutor(c.Config, "GET", u.String())
		err = ws.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
		var exitErr utilexec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 7 {
			t.Fatalf("exit 7 through WebSocket: %v", err)
		}
	})

	t.Run("Attach", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "reader", Image: "docker.io/library/busybox:1.36", ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", "read line; echo got:$line"}, Stdin: true, StdinOnce: true}}}}
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		kubectl(t, c, "wait", "--for=condition=Ready", "pod/reader", "--timeout=60s")
		out, errOut, code := kubectlEnv(t, c, nil, "hello\n", "attach", "-i", "reader")
		if code != 0 || !strings.Contains(out, "got:hello") {
			t.Fatalf("attach: stdout %q stderr %q exit %d", out, errOut, code)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		errOut := kubectlFails(t, c, "exec", "shell", "-c", "nope", "--", "true")
		mustContain(t, errOut, "container nope is not valid for pod shell")
		kubectl(t, c, "run", "done", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never", "--", "true")
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "done", metav1.GetOptions{})
			if err != nil || p.Status.Phase != corev1.PodSucceeded {
				return fmt.Errorf("pod done not finished: %v", err)
			}
			return nil
		})
		errOut = kubectlFails(t, c, "exec", "done", "--", "true")
		mustContain(t, errOut, "cannot exec into a container in a completed pod; current phase is Succeeded")
	})
}

// fixedSize reports one terminal size, then stops.
type fixedSize struct{ sent bool }

func (f *fixedSize) Next() *remotecommand.TerminalSize {
	if f.sent {
		return nil
	}
	f.sent = true
	return &remotecommand.TerminalSize{Width: 101, Height: 37}
}
