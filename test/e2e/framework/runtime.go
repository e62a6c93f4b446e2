package framework

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	remote "k8s.io/cri-client/pkg"

	"skiff/internal/kubelet/containerd"
)

// NeedRoot skips a test that needs root and containerd, unless CI is set: CI must run every test.
func NeedRoot(t testing.TB) {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	} else if _, err := exec.LookPath("containerd"); err != nil {
		missing = "containerd (make deps installs it)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("this test needs %s", missing)
	}
	t.Skipf("needs %s", missing)
}

var (
	imagesOnce sync.Once
	imagesDir  string
	imagesErr  error
)

// TestImages builds the project's test images (test/images) once per test binary and returns the directory
// holding their tarballs.
func TestImages(t testing.TB) string {
	t.Helper()
	imagesOnce.Do(func() {
		imagesDir, imagesErr = os.MkdirTemp("", "skiff-e2e-images-")
		if imagesErr != nil {
			return
		}
		cmd := exec.Command("go", "run", "./test/images/build", "-out", imagesDir)
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			imagesErr = &buildError{err: err, out: string(out)}
		}
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
	return imagesDir
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "building test images: " + e.err.Error() + "\n" + e.out }

// StartContainerd runs containerd through skiff's launcher in a temp dir, imports the test images, and stops
// it and removes everything it left (mounts included) when the test ends.
func StartContainerd(t testing.TB) *containerd.Containerd {
	t.Helper()
	NeedRoot(t)
	images := TestImages(t)
	dir, err := os.MkdirTemp("", "skiff-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(dir, "containerd.log"))
	c, err := containerd.Start(context.Background(), containerd.Config{Dir: filepath.Join(dir, "c"), Log: logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeAllSandboxes(c)
		c.Stop()
		killShims(c.Socket())
		logf.Close()
		unmountUnder(dir)
		os.RemoveAll(dir)
	})
	entries, _ := os.ReadDir(images)
	for _, e := range entries {
		out, err := exec.Command("ctr", "--address", c.Socket(), "-n", "k8s.io", "images", "import", filepath.Join(images, e.Name())).CombinedOutput()
		if err != nil {
			t.Fatalf("import %s: %v\n%s", e.Name(), err, out)
		}
	}
	return c
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
			mounts = append(mounts, fields[1])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}

// Cleanup removes what the framework built once per test binary (the test image tarballs); TestMain calls it.
func Cleanup() {
	if imagesDir != "" {
		os.RemoveAll(imagesDir)
	}
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
}

// removeAllSandboxes stops and removes every pod sandbox (and so its containers), waiting up to 20 s for
// containerd to answer (it may be restarting after a test killed it).
func removeAllSandboxes(c *containerd.Containerd) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		rs, err := remote.NewRemoteRuntimeService(ctx, c.Endpoint(), 2*time.Second, nil, false)
		if err == nil {
			sbs, err := rs.ListPodSandbox(ctx, nil)
			if err == nil {
				for _, sb := range sbs {
					_ = rs.StopPodSandbox(ctx, sb.Id)
					_ = rs.RemovePodSandbox(ctx, sb.Id)
				}
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// killShims kills leftover containerd shims of this test's containerd (found by the socket path unique to
// it in their command line) and their containers, should removing the sandboxes have failed.
func killShims(socket string) {
	entries, _ := os.ReadDir("/proc")
	var shims []int
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			// Fields after the command name (which is in parentheses): state, ppid, ...
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
				f := strings.Fields(string(stat)[i+1:])
				if len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmd), "containerd-shim") && strings.Contains(string(cmd), socket) {
			shims = append(shims, pid)
		}
	}
	for _, shim := range shims {
		for pid, pp := range parent {
			if pp == shim {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = syscall.Kill(shim, syscall.SIGKILL)
	}
	// A server or agent killed after its stop timeout leaves its containerd (its child, with a config under
	// the test's own data dir) running: stop that one too.
	config := filepath.Join(filepath.Dir(socket), "config.toml")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "containerd" && slices.Contains(args, config) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
