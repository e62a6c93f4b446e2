package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	remote "k8s.io/cri-client/pkg"

	"skiff/internal/images"
	"skiff/internal/kubelet/containerd"
	"skiff/internal/kubelet/node"
	"skiff/internal/kubelet/pausebin"
	"skiff/internal/kubelet/pods"
	"skiff/internal/kubelet/server"
	"skiff/internal/network/overlay"
)

// PauseImage is the sandbox image skiff provides itself, offline.
const PauseImage = "registry.k8s.io/pause:3.10"

// Config configures the node agent.
type Config struct {
	DataDir  string
	NodeName string
	NodeIP   string
	Labels   map[string]string
	Taints   []corev1.Taint
	MaxPods  int
	// RuntimeEndpoint uses an existing CRI runtime instead of starting containerd.
	RuntimeEndpoint string
	// PodCIDR, when set, is this node's pod subnet (written into spec.podCIDR); otherwise the node waits for
	// the control plane to allocate one. The CNI bridge and its IPAM use the node's spec.podCIDR.
	PodCIDR string
	// ClusterCIDR is the whole pod network (all nodes' subnets): pods' traffic leaving it is masqueraded.
	ClusterCIDR netip.Prefix
	// OnPodCIDR, when set, runs once the node's pod CIDR is known and before any pod starts; it returns the
	// nameservers for ClusterFirst pods, in place of ClusterDNS. An error stops the agent.
	OnPodCIDR      func(ctx context.Context, podCIDR netip.Prefix) (clusterDNS []string, err error)
	KubeletVersion string
	// Port and ServerTLS configure the agent's HTTPS server (logs for the API server).
	Port      int
	ServerTLS *tls.Config
	// Reserved is held back from allocatable (--kube-reserved plus --system-reserved).
	Reserved corev1.ResourceList
	// EvictionHard are the hard eviction thresholds (nil: upstream's defaults).
	EvictionHard []node.Threshold
	// ClusterDNS (nameserver IPs) and ClusterDomain make the resolv.conf of ClusterFirst pods; ResolvConf is
	// the host's (dnsPolicy Default; default /etc/resolv.conf).
	ClusterDNS    []string
	ClusterDomain string
	ResolvConf    string
}

// ImagesDir is where image tarballs are imported from at start.
func ImagesDir(dataDir string) string { return filepath.Join(dataDir, "agent", "images") }

// ContainerdSocket is the socket of the containerd skiff starts.
func ContainerdSocket(dataDir string) string {
	return filepath.Join(dataDir, "agent", "containerd", "containerd.sock")
}

// Run starts the runtime (unless an endpoint is given), imports images, registers the node and runs its pods
// until ctx ends. Containers keep running when skiff stops; the next start picks the node up again.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config, ready chan<- error) {
	err := run(ctx, client, cfg, ready)
	if err != nil && ctx.Err() == nil {
		slog.Error("node agent stopped", "err", err)
	}
}

func run(ctx context.Context, client kubernetes.Interface, cfg Config, ready chan<- error) error {
	fail := func(err error) error {
		ready <- err
		return err
	}
	agentDir := filepath.Join(cfg.DataDir, "agent")
	endpoint, runtimeVersion := cfg.RuntimeEndpoint, "remote"
	if endpoint == "" {
		runtimeVersion = "containerd://" + containerdVersion()
	}
	// The node registers first: its pod network needs the pod CIDR the control plane gives it.
	if cfg.Port == 0 {
		cfg.Port = 10250
	}
	agent := node.New(client, node.Config{Name: cfg.NodeName, IP: cfg.NodeIP, Labels: cfg.Labels, Taints: cfg.Taints, MaxPods: cfg.MaxPods,
		Reserved: cfg.Reserved, EvictionHard: cfg.EvictionHard, DataDir: cfg.DataDir, RuntimeVersion: runtimeVersion, KubeletVersion: cfg.KubeletVersion,
		KubeletPort: int32(cfg.Port), PodCIDR: cfg.PodCIDR})
	// Not ready (as upstream's kubelet with no CNI config yet) until the pod network and runtime are up; the
	// heartbeat runs from registration on, however long the pod subnet takes.
	agent.SetNotReady("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:waiting for the node's pod CIDR")
	if err := agent.Register(ctx); err != nil {
		return fail(err)
	}
	go agent.Run(ctx)
	podCIDR, err := agent.WaitPodCIDR(ctx, 30*time.Second)
	if err != nil {
		return fail(err)
	}
	agent.SetPodCIDR(podCIDR.String())
	slog.Info("pod network", "node", agent.Name(), "podCIDR", podCIDR.String())
	clusterDNS := cfg.ClusterDNS
	if cfg.OnPodCIDR != nil {
		if clusterDNS, err = cfg.OnPodCIDR(ctx, podCIDR); err != nil {
			return fail(err)
		}
	}
	if cfg.RuntimeEndpoint == "" {
		logf, err := os.OpenFile(filepath.Join(agentDir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			if err := os.MkdirAll(agentDir, 0o711); err != nil {
				return fail(err)
			}
			if logf, err = os.OpenFile(filepath.Join(agentDir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
				return fail(err)
			}
		}
		defer logf.Close()
		ctrd, err := containerd.Start(ctx, containerd.Config{Dir: filepath.Join(agentDir, "containerd"), SandboxImage: PauseImage, Log: logf})
		if err != nil {
			return fail(err)
		}
		defer ctrd.Stop()
		if err := containerd.EnsureBridgeSubnet("skiff0", podCIDR); err != nil {
			return fail(err)
		}
		if err := containerd.WriteBridgeConfig(ctrd.CNIConfDir(), "skiff0", podCIDR.String(), filepath.Join(agentDir, "cni", "ipam")); err != nil {
			return fail(err)
		}
		// Source NAT for pods leaving the cluster network is the node's, not the bridge plugin's (which would
		// also hide pod addresses from pods on other nodes).
		if err := overlay.ApplyMasquerade(ctx, podCIDR, cfg.ClusterCIDR); err != nil {
			return fail(err)
		}
		if err := ensurePauseImage(ImagesDir(cfg.DataDir)); err != nil {
			return fail(fmt.Errorf("pause image: %w", err))
		}
		if err := ImportDir(ctx, ctrd.Socket(), ImagesDir(cfg.DataDir)); err != nil {
			return fail(err)
		}
		endpoint = ctrd.Endpoint()
	}
	rs, err := remote.NewRemoteRuntimeService(ctx, endpoint, 10*time.Second, nil, false)
	if err != nil {
		return fail(err)
	}
	is, err := remote.NewRemoteImageService(ctx, endpoint, 10*time.Second, nil, false)
	if err != nil {
		return fail(err)
	}
	if cfg.ServerTLS != nil {
		go func() {
			addr := net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.Port))
			if err := server.Run(ctx, server.Config{Address: addr, TLS: cfg.ServerTLS, PodLogDir: filepath.Join(agentDir, "pods"), Runtime: rs,
				NodeName: agent.Name(), Authorizer: &server.SubjectAccessReviewer{Client: client}}); err != nil {
				slog.Error("kubelet server stopped", "err", err)
			}
		}()
	}
	agent.SetNotReady("")
	ready <- nil
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	mgr := pods.New(pods.Config{NodeName: agent.Name(), NodeIP: agent.IP(), Client: client, Runtime: rs, Images: is,
		LogDir: filepath.Join(agentDir, "pods"), ClusterDNS: clusterDNS, ClusterDomain: cfg.ClusterDomain, ResolvConf: cfg.ResolvConf, Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: agent.Name()})})
	mgr.Run(ctx)
	return nil
}

func containerdVersion() string {
	out, err := exec.Command("containerd", "--version").Output()
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return strings.SplitN(f[2], "~", 2)[0]
	}
	return "unknown"
}

// ensurePauseImage writes skiff's own pause image into dir unless it is there: the image holds this very
// binary as /pause, which pauses when started under that name (see cmd/skiff).
func ensurePauseImage(dir string) error {
	path := filepath.Join(dir, "skiff-pause.tar")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if st, err := os.Stat(path); err == nil {
		if bin, err := os.Stat(self); err == nil && st.ModTime().After(bin.ModTime()) {
			return nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file := images.HostFile("/pause", self, 0o755)
	if bin := pausebin.Binary(); bin != nil {
		// The small static pause built with skiff; without it, skiff itself pauses (heavier, but offline too).
		file = images.Data("/pause", 0o755, bin)
	}
	img, err := images.Build(PauseImage, []images.Layer{{Files: []images.File{file}}},
		images.ImageConfig{Entrypoint: []string{"/pause"}, User: "65535:65535"})
	if err != nil {
		return err
	}
	return images.WriteTarball(path, map[string]v1.Image{PauseImage: img})
}

// ImportDir imports every *.tar in dir into containerd's k8s.io namespace.
func ImportDir(ctx context.Context, socket, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tar") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return Import(ctx, socket, files...)
}

// Import imports image tarballs (docker-save or OCI layout) into containerd.
func Import(ctx context.Context, socket string, files ...string) error {
	for _, f := range files {
		out, err := exec.CommandContext(ctx, "ctr", "--address", socket, "-n", "k8s.io", "images", "import", f).CombinedOutput()
		if err != nil {
			return fmt.Errorf("import %s: %w: %s", f, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
