package node

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Node pressure, as upstream's kubelet reports it: eviction signals are observed on the machine and compared
// with hard eviction thresholds (--eviction-hard, upstream's syntax and defaults). A crossed memory
// threshold sets MemoryPressure, nodefs/imagefs thresholds DiskPressure and pid.available PIDPressure; a
// condition stays True for the pressure transition period (5 min) after the signal clears, so it does not
// flap. Evicting pods under pressure is not done yet.

// Signals, as upstream names them.
const (
	SignalMemoryAvailable   = "memory.available"
	SignalNodeFsAvailable   = "nodefs.available"
	SignalNodeFsInodesFree  = "nodefs.inodesFree"
	SignalImageFsAvailable  = "imagefs.available"
	SignalImageFsInodesFree = "imagefs.inodesFree"
	SignalPIDAvailable      = "pid.available"
)

// DefaultEvictionHard is upstream's default on Linux.
const DefaultEvictionHard = "memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%,imagefs.inodesFree<5%"

// Threshold is one hard eviction threshold: the signal is under pressure when what is available falls below
// Quantity, or below Percent of the capacity.
type Threshold struct {
	Signal   string
	Quantity *resource.Quantity
	Percent  float64
}

var signalConditions = map[string]corev1.NodeConditionType{
	SignalMemoryAvailable:   corev1.NodeMemoryPressure,
	SignalNodeFsAvailable:   corev1.NodeDiskPressure,
	SignalNodeFsInodesFree:  corev1.NodeDiskPressure,
	SignalImageFsAvailable:  corev1.NodeDiskPressure,
	SignalImageFsInodesFree: corev1.NodeDiskPressure,
	SignalPIDAvailable:      corev1.NodePIDPressure,
}

// ParseEvictionHard reads "signal<value,..." where value is a quantity or a percentage.
func ParseEvictionHard(s string) ([]Threshold, error) {
	var out []Threshold
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sig, val, ok := strings.Cut(part, "<")
		if !ok {
			return nil, fmt.Errorf("eviction threshold %q: want signal<value (only the < operator is supported)", part)
		}
		if _, known := signalConditions[sig]; !known {
			return nil, fmt.Errorf("eviction threshold %q: unknown signal %q", part, sig)
		}
		if seen[sig] {
			return nil, fmt.Errorf("eviction threshold %q: signal %s given twice", part, sig)
		}
		seen[sig] = true
		t := Threshold{Signal: sig}
		if p, isPct := strings.CutSuffix(val, "%"); isPct {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 || f > 100 {
				return nil, fmt.Errorf("eviction threshold %q: percentage must be between 0%% and 100%%", part)
			}
			t.Percent = f
		} else {
			q, err := resource.ParseQuantity(val)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("eviction threshold %q: %q is not a non-negative quantity", part, val)
			}
			t.Quantity = &q
		}
		out = append(out, t)
	}
	return out, nil
}

// observation is one signal's available amount and capacity.
type observation struct{ available, capacity int64 }

// observe reads the signals from the machine: MemAvailable from /proc/meminfo, filesystem space and inodes
// of the data dir (containerd's images live there too, so nodefs and imagefs are the same filesystem unless an
// external runtime is used), and free PIDs against kernel.pid_max.
func observe(dataDir string) map[string]observation {
	obs := map[string]observation{}
	if avail, total, err := meminfo(); err == nil {
		obs[SignalMemoryAvailable] = observation{avail, total}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &st); err == nil {
		bytes := observation{int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize}
		inodes := observation{int64(st.Ffree), int64(st.Files)}
		obs[SignalNodeFsAvailable], obs[SignalImageFsAvailable] = bytes, bytes
		if inodes.capacity > 0 { // some filesystems (btrfs) report no inode counts
			obs[SignalNodeFsInodesFree], obs[SignalImageFsInodesFree] = inodes, inodes
		}
	}
	if max, err := strconv.ParseInt(readTrim("/proc/sys/kernel/pid_max"), 10, 64); err == nil {
		// /proc/loadavg's fourth field is running/total scheduling entities (threads).
		f := strings.Fields(readTrim("/proc/loadavg"))
		if len(f) >= 4 {
			if _, total, ok := strings.Cut(f[3], "/"); ok {
				if n, err := strconv.ParseInt(total, 10, 64); err == nil {
					obs[SignalPIDAvailable] = observation{max - n, max}
				}
			}
		}
	}
	return obs
}

func meminfo() (avail, total int64, err error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "MemAvailable:":
			avail = kb * 1024
		case "MemTotal:":
			total = kb * 1024
		}
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("no MemTotal in /proc/meminfo")
	}
	return avail, total, nil
}

// crossed reports whether the observation is below the threshold.
func (t Threshold) crossed(o observation) bool {
	if t.Quantity != nil {
		return o.available < t.Quantity.Value()
	}
	return float64(o.available) < float64(o.capacity)*t.Percent/100
}

// pressures returns the conditions whose thresholds are crossed now, with the signals that crossed them.
func pressures(thresholds []Threshold, obs map[string]observation) map[corev1.NodeConditionType][]string {
	out := map[corev1.NodeConditionType][]string{}
	for _, t := range thresholds {
		o, ok := obs[t.Signal]
		if !ok || !t.crossed(o) {
			continue
		}
		c := signalConditions[t.Signal]
		out[c] = append(out[c], t.Signal)
	}
	return out
}

// hardMemoryThreshold is the memory.available threshold in bytes (upstream subtracts it from allocatable).
func hardMemoryThreshold(thresholds []Threshold, memCapacity int64) int64 {
	for _, t := range thresholds {
		if t.Signal != SignalMemoryAvailable {
			continue
		}
		if t.Quantity != nil {
			return t.Quantity.Value()
		}
		return int64(float64(memCapacity) * t.Percent / 100)
	}
	return 0
}
