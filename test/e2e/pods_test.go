package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	remote "k8s.io/cri-client/pkg"

	"skiff/internal/kubelet/containerd"
	"skiff/internal/kubelet/node"
	"skiff/internal/kubelet/pods"
	"skiff/test/e2e/framework"
)

// TestPodsRunOnContainerd runs the node agent in the test process (registration, heartbeat and pod workers on
// a containerd started by skiff's launcher) against a real server whose scheduler binds pods to it: pods made
// with upstream kubectl really run, get an IP on the pod network, answer HTTP, finish with the right phase and
// are torn down on delete.
func TestPodsRunOnContainerd(t *testing.T) {
	ctrd := framework.StartContainerd(t)
	const bridge = "skiffe2e0"
	if err := containerd.WriteBridgeConfig(ctrd.CNIConfDir(), bridge, "10.244.250.0/24", filepath.Join(t.TempDir(), "ipam")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() })
	c := framework.Start(t, framework.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	agent := node.New(c.Client, node.Config{Name: "agent-1", IP: "127.0.0.1", DataDir: c.DataDir, RuntimeVersion: "containerd://1.6", KubeletVersion: "v1.37.2"})
	if err := agent.Register(ctx); err != nil {
		t.Fatal(err)
	}
	go agent.Run(ctx)
	rs, err := remote.NewRemoteRuntimeService(ctx, ctrd.Endpoint(), 10*time.Second, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	is, err := remote.NewRemoteImageService(ctx, ctrd.Endpoint(), 10*time.Second, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	mgr := pods.New(pods.Config{NodeName: "agent-1", NodeIP: "127.0.0.1", Client: c.Client, Runtime: rs, Images: is, LogDir: t.TempDir()})
	go mgr.Run(ctx)

	waitPhase := func(name string, phase corev1.PodPhase) *corev1.Pod {
		t.Helper()
		var pod *corev1.Pod
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			pod = p
			if p.Status.Phase != phase {
				return fmt.Errorf("pod %s phase %q (want %s), node %q, statuses %+v", name, p.Status.Phase, phase, p.Spec.NodeName, p.Status.ContainerStatuses)
			}
			return nil
		})
		return pod
	}

	t.Run("ServesHTTPOnThePodNetwork", func(t *testing.T) {
		kubectl(t, c, "run", "web", "--image=skiff.local/testserver:1", "--image-pull-policy=Never", "--port=8080")
		pod := waitPhase("web", corev1.PodRunning)
		if pod.Spec.NodeName != "agent-1" || !strings.HasPrefix(pod.Status.PodIP, "10.244.250.") {
			t.Fatalf("placed on %q with IP %q", pod.Spec.NodeName, pod.Status.PodIP)
		}
		var body string
		eventually(t, 20*time.Second, func() error {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + pod.Status.PodIP + ":8080/hostname")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return nil
		})
		if body != "web" {
			t.Fatalf("hostname served by the pod: %q", body)
		}
		out := kubectl(t, c, "get", "pod", "web", "-o", "wide")
		mustContain(t, out, "Running", "1/1", "agent-1", pod.Status.PodIP)
		kubectl(t, c, "delete", "pod", "web", "--wait", "--timeout=60s")
		if _, err := c.Client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("pod still there after delete: %v", err)
		}
		sbs, _ := rs.ListPodSandbox(ctx, nil)
		if len(sbs) != 0 {
			t.Fatalf("%d sandboxes left after delete", len(sbs))
		}
	})

	t.Run("PhasesFromExitCodes", func(t *testing.T) {
		kubectl(t, c, "run", "ok", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never", "--", "sh", "-c", "exit 0")
		kubectl(t, c, "run", "bad", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never", "--", "sh", "-c", "exit 3")
		waitPhase("ok", corev1.PodSucceeded)
		bad := waitPhase("bad", corev1.PodFailed)
		term := bad.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 3 || term.Reason != "Error" {
			t.Fatalf("terminated state %+v", bad.Status.ContainerStatuses[0].State)
		}
		kubectl(t, c, "delete", "pod", "ok", "bad", "--wait", "--timeout=60s")
	})
}
