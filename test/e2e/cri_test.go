package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	remote "k8s.io/cri-client/pkg"

	"skiff/internal/kubelet/containerd"
	"skiff/test/e2e/framework"
)

const busyboxImage = "docker.io/library/busybox:1.36"

func criClient(t testing.TB, c *containerd.Containerd) internalapi.RuntimeService {
	t.Helper()
	rs, err := remote.NewRemoteRuntimeService(context.Background(), c.Endpoint(), 10*time.Second, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// runPod starts a host-network sandbox with one busybox container running cmd and returns their ids.
func runPod(ctx context.Context, rs internalapi.RuntimeService, name, logDir string, cmd []string) (string, string, error) {
	sandboxCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "e2e", Uid: name + "-uid"},
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}},
	}
	sb, err := rs.RunPodSandbox(ctx, sandboxCfg, "")
	if err != nil {
		return "", "", fmt.Errorf("RunPodSandbox: %w", err)
	}
	ctr, err := rs.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "main"},
		Image:    &runtimeapi.ImageSpec{Image: busyboxImage},
		Command:  cmd,
		LogPath:  "main.log",
	}, sandboxCfg)
	if err != nil {
		return sb, "", fmt.Errorf("CreateContainer: %w", err)
	}
	if err := rs.StartContainer(ctx, ctr); err != nil {
		return sb, ctr, fmt.Errorf("StartContainer: %w", err)
	}
	return sb, ctr, nil
}

func removePod(ctx context.Context, rs internalapi.RuntimeService, sb string) {
	_ = rs.StopPodSandbox(ctx, sb)
	_ = rs.RemovePodSandbox(ctx, sb)
}

// TestContainerdThroughCRI: skiff's containerd launcher brings up a working CRI runtime with the project's own
// offline images: a sandbox and a busybox container run, log, and are torn down; containerd is restarted when
// it dies, and the container survives that.
func TestContainerdThroughCRI(t *testing.T) {
	c := framework.StartContainerd(t)
	rs := criClient(t, c)
	ctx := context.Background()
	ver, err := rs.Version(ctx, "v1")
	if err != nil || ver.RuntimeName != "containerd" {
		t.Fatalf("CRI version: %v %+v", err, ver)
	}
	logDir := t.TempDir()
	sb, ctr, err := runPod(ctx, rs, "hello", logDir, []string{"sh", "-c", "echo hello from busybox; exec sleep 3600"})
	defer removePod(ctx, rs, sb)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		st, err := rs.ContainerStatus(ctx, ctr, false)
		if err != nil {
			return err
		}
		if st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			return fmt.Errorf("state %s", st.Status.State)
		}
		data, _ := os.ReadFile(filepath.Join(logDir, "main.log"))
		if !strings.Contains(string(data), "hello from busybox") {
			return fmt.Errorf("log: %q", data)
		}
		return nil
	})

	// containerd dies; the launcher restarts it and the container is still running.
	old := c.PID()
	if p, err := os.FindProcess(old); err == nil {
		_ = p.Kill()
	}
	eventually(t, 30*time.Second, func() error {
		if c.PID() == old {
			return fmt.Errorf("containerd not restarted yet")
		}
		rs2, err := remote.NewRemoteRuntimeService(ctx, c.Endpoint(), 5*time.Second, nil, false)
		if err != nil {
			return err
		}
		st, err := rs2.ContainerStatus(ctx, ctr, false)
		if err != nil {
			return err
		}
		if st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			return fmt.Errorf("container state after restart: %s", st.Status.State)
		}
		return nil
	})
	rs = criClient(t, c)
	if err := rs.StopContainer(ctx, ctr, 1); err != nil {
		t.Fatal(err)
	}
	if err := rs.RemoveContainer(ctx, ctr); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCRIPodStart is the floor for pod start latency on this machine: RunPodSandbox + CreateContainer +
// StartContainer through CRI with pre-imported images.
func BenchmarkCRIPodStart(b *testing.B) {
	c := framework.StartContainerd(b)
	rs := criClient(b, c)
	ctx := context.Background()
	logDir := b.TempDir()
	var sandboxes []string
	defer func() {
		for _, sb := range sandboxes {
			removePod(ctx, rs, sb)
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sb, _, err := runPod(ctx, rs, fmt.Sprintf("bench-%d", i), logDir, []string{"sleep", "3600"})
		sandboxes = append(sandboxes, sb)
		if err != nil {
			b.Fatal(err)
		}
	}
}
