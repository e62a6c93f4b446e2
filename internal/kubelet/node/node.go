package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Config describes the node.
type Config struct {
	Name     string
	IP       string
	Labels   map[string]string
	Taints   []corev1.Taint
	MaxPods  int
	Reserved corev1.ResourceList
	// DataDir is where ephemeral storage lives (its filesystem's size is the capacity).
	DataDir        string
	RuntimeVersion string // e.g. containerd://1.6.20
	KubeletVersion string // e.g. v1.37.2
	// PodCIDR, when set, is this node's pod subnet, written into spec.podCIDR at registration (skiff server
	// --pod-cidr); otherwise the control plane's nodeipam controller allocates one.
	PodCIDR string
	// KubeletPort is where the agent's HTTPS server listens (logs, exec, ...).
	KubeletPort int32
	// LeaseInterval is how often the heartbeat Lease is renewed (upstream: 10 s); the Lease lasts 40 s.
	LeaseInterval time.Duration
	// StatusReportInterval forces a status write even without changes (upstream: 5 min).
	StatusReportInterval time.Duration
	// EvictionHard are the hard eviction thresholds that decide the pressure conditions (nil: upstream's
	// defaults); the memory one is also held back from allocatable, as upstream.
	EvictionHard []Threshold
	// PressureTransitionPeriod is how long a pressure condition stays True after its signal clears
	// (upstream: 5 min).
	PressureTransitionPeriod time.Duration
	Now                      func() time.Time
	// observe reads the eviction signals (tests replace it).
	observe func(dataDir string) map[string]observation
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	if c.IP == "" {
		c.IP = DefaultIP()
	}
	if c.MaxPods == 0 {
		c.MaxPods = 110
	}
	if c.DataDir == "" {
		c.DataDir = "/"
	}
	if c.LeaseInterval == 0 {
		c.LeaseInterval = 10 * time.Second
	}
	if c.KubeletPort == 0 {
		c.KubeletPort = 10250
	}
	if c.StatusReportInterval == 0 {
		c.StatusReportInterval = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.EvictionHard == nil {
		c.EvictionHard, _ = ParseEvictionHard(DefaultEvictionHard)
	}
	if c.PressureTransitionPeriod == 0 {
		c.PressureTransitionPeriod = 5 * time.Minute
	}
	if c.observe == nil {
		c.observe = observe
	}
}

// Agent keeps one Node registered and alive.
type Agent struct {
	cfg        Config
	client     kubernetes.Interface
	lastStatus corev1.NodeStatus
	lastReport time.Time
	// lastPressure is when each pressure condition's threshold was last seen crossed.
	lastPressure map[corev1.NodeConditionType]time.Time

	mu sync.Mutex
	// notReady, when set, is why the node is not ready yet (Ready=False, reason KubeletNotReady).
	notReady string
	// podCIDR is the pod subnet this node's network was built for: a Node re-created after a delete gets it
	// back rather than a new one its pods do not have.
	podCIDR string
	wake    chan struct{}
}

// SetNotReady makes the node report Ready=False with msg as the reason ("" reports Ready again); the status
// is written at once when Run runs.
func (a *Agent) SetNotReady(msg string) {
	a.mu.Lock()
	a.notReady = msg
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// SetPodCIDR records the pod subnet the node's network uses (see Agent.podCIDR).
func (a *Agent) SetPodCIDR(cidr string) {
	a.mu.Lock()
	a.podCIDR = cidr
	a.mu.Unlock()
}

// New returns an agent for cfg.
func New(client kubernetes.Interface, cfg Config) *Agent {
	cfg.defaults()
	return &Agent{cfg: cfg, client: client, lastPressure: map[corev1.NodeConditionType]time.Time{}, podCIDR: cfg.PodCIDR, wake: make(chan struct{}, 1)}
}

// desiredStatus computes the node status from the machine.
func (a *Agent) desiredStatus(now metav1.Time) (corev1.NodeStatus, error) {
	capacity, err := machineCapacity(a.cfg.DataDir, a.cfg.MaxPods)
	if err != nil {
		return corev1.NodeStatus{}, err
	}
	hostname, _ := os.Hostname()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	for c := range pressures(a.cfg.EvictionHard, a.cfg.observe(a.cfg.DataDir)) {
		a.lastPressure[c] = now.Time
	}
	pressure := func(t corev1.NodeConditionType, okReason, okMsg, badReason, badMsg string) corev1.NodeCondition {
		if seen, ok := a.lastPressure[t]; ok && now.Sub(seen) < a.cfg.PressureTransitionPeriod {
			return cond(t, corev1.ConditionTrue, badReason, badMsg)
		}
		return cond(t, corev1.ConditionFalse, okReason, okMsg)
	}
	// As upstream, allocatable also holds back the hard eviction threshold for memory.
	reserved := a.cfg.Reserved.DeepCopy()
	if reserved == nil {
		reserved = corev1.ResourceList{}
	}
	if mem, ok := capacity[corev1.ResourceMemory]; ok {
		if hold := hardMemoryThreshold(a.cfg.EvictionHard, mem.Value()); hold > 0 {
			q := reserved[corev1.ResourceMemory]
			q.Add(*resource.NewQuantity(hold, resource.BinarySI))
			reserved[corev1.ResourceMemory] = q
		}
	}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable(capacity, reserved),
		Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.cfg.IP}, {Type: corev1.NodeHostName, Address: hostname}},
		Conditions: []corev1.NodeCondition{
			pressure(corev1.NodeMemoryPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
				"KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
			pressure(corev1.NodeDiskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure",
				"KubeletHasDiskPressure", "kubelet has disk pressure"),
			pressure(corev1.NodePIDPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available",
				"KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
			a.readyCondition(cond),
		},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: readTrim("/etc/machine-id"), SystemUUID: readTrim("/sys/class/dmi/id/product_uuid"),
			BootID: readTrim("/proc/sys/kernel/random/boot_id"), KernelVersion: kernelVersion(), OSImage: osImage(),
			ContainerRuntimeVersion: a.cfg.RuntimeVersion, KubeletVersion: a.cfg.KubeletVersion,
			OperatingSystem: runtime.GOOS, Architecture: runtime.GOARCH,
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: a.cfg.KubeletPort}},
	}, nil
}

// Register creates the Node, or updates labels, taints and status of an existing one.
func (a *Agent) Register(ctx context.Context) error {
	now := metav1.NewTime(a.cfg.Now())
	status, err := a.desiredStatus(now)
	if err != nil {
		return err
	}
	labels := map[string]string{corev1.LabelHostname: a.cfg.Name, corev1.LabelOSStable: runtime.GOOS, corev1.LabelArchStable: runtime.GOARCH}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	nodes := a.client.CoreV1().Nodes()
	a.mu.Lock()
	podCIDR := a.podCIDR
	a.mu.Unlock()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Labels: labels}, Spec: corev1.NodeSpec{Taints: a.cfg.Taints, PodCIDR: podCIDR}, Status: status}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	switch {
	case err == nil:
		a.lastStatus, a.lastReport = created.Status, now.Time
		return nil
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("register node %s: %w", a.cfg.Name, err)
	}
	// The controller manager may write the Node meanwhile (nodeipam setting spec.podCIDR): retry conflicts.
	var existing *corev1.Node
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(ctx, a.cfg.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		for k, v := range labels {
			cur.Labels[k] = v
		}
		switch {
		case podCIDR == "":
		case cur.Spec.PodCIDR == "":
			cur.Spec.PodCIDR, cur.Spec.PodCIDRs = podCIDR, []string{podCIDR}
		case cur.Spec.PodCIDR != podCIDR:
			// spec.podCIDR is immutable: the node keeps the one it has.
			slog.Warn("node already has another pod CIDR; keeping it", "node", a.cfg.Name, "podCIDR", cur.Spec.PodCIDR, "requested", podCIDR)
		}
		existing, err = nodes.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("update node %s: %w", a.cfg.Name, err)
	}
	return a.writeStatus(ctx, existing, status)
}

func (a *Agent) writeStatus(ctx context.Context, node *corev1.Node, status corev1.NodeStatus) error {
	// Keep transition times of conditions whose status did not change.
	for i := range status.Conditions {
		for _, old := range node.Status.Conditions {
			if old.Type == status.Conditions[i].Type && old.Status == status.Conditions[i].Status {
				status.Conditions[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	node = node.DeepCopy()
	node.Status = status
	updated, err := a.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("node status: %w", err)
	}
	a.lastStatus, a.lastReport = updated.Status, a.cfg.Now()
	return nil
}

// statusChanged compares everything but heartbeat and transition times.
func statusChanged(a, b corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) corev1.NodeStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime, s.Conditions[i].LastTransitionTime = metav1.Time{}, metav1.Time{}
		}
		return s
	}
	return !apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

// readyCondition is Ready=True unless SetNotReady said otherwise.
func (a *Agent) readyCondition(cond func(corev1.NodeConditionType, corev1.ConditionStatus, string, string) corev1.NodeCondition) corev1.NodeCondition {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.notReady != "" {
		return cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady", a.notReady)
	}
	return cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
}

// Run renews the heartbeat Lease every LeaseInterval and rewrites the status when it changes or is due,
// until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.LeaseInterval)
	defer t.Stop()
	for {
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("node lease renewal failed", "node", a.cfg.Name, "err", err)
		}
		if err := a.syncStatus(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("node status update failed", "node", a.cfg.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.wake:
		}
	}
}

func (a *Agent) syncStatus(ctx context.Context) error {
	now := metav1.NewTime(a.cfg.Now())
	status, err := a.desiredStatus(now)
	if err != nil {
		return err
	}
	// Compared with the node as the API has it, not only with what this agent last wrote: the node
	// lifecycle controller marks a node Unknown when its heartbeats stop, and an agent that comes back must
	// correct that at once (the read is served from the API server's watch cache).
	node, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		return a.Register(ctx)
	}
	if err != nil {
		return err
	}
	if !statusChanged(status, a.lastStatus) && !statusChanged(status, node.Status) && now.Sub(a.lastReport) < a.cfg.StatusReportInterval {
		return nil
	}
	return a.writeStatus(ctx, node, status)
}

func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(a.cfg.Now())
	lease, err := leases.Get(ctx, a.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(a.cfg.Name), LeaseDurationSeconds: ptr.To(int32(40)), RenewTime: &now}}
		if node, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{}); err == nil {
			// Owned by the Node, so the garbage collector removes it with the node.
			lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	lease.Spec.HolderIdentity = ptr.To(a.cfg.Name)
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// Name is the registered node name.
func (a *Agent) Name() string { return a.cfg.Name }

// IP is the node's internal IP.
func (a *Agent) IP() string { return a.cfg.IP }
