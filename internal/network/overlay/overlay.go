package overlay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// DefaultDevice is the VXLAN device's name.
const DefaultDevice = "skiff.vxlan"

// Config configures the overlay on one node.
type Config struct {
	NodeName string
	// Backend is VXLAN (default) or HostGW.
	Backend string
	// Device, VNI and Port of the VXLAN (defaults skiff.vxlan, 1, 8472).
	Device string
	VNI    int
	Port   int
	// Resync re-applies everything this often even without changes (default 30 s).
	Resync time.Duration
}

func (c *Config) defaults() {
	if c.Backend == "" {
		c.Backend = VXLAN
	}
	if c.Device == "" {
		c.Device = DefaultDevice
	}
	if c.VNI == 0 {
		c.VNI = 1
	}
	if c.Port == 0 {
		c.Port = 8472
	}
	if c.Resync == 0 {
		c.Resync = 30 * time.Second
	}
}

// Run keeps this node's routes to the other nodes' pod subnets until ctx ends. Entries are left in place on
// exit (pods keep talking across a restart); RemoveAll takes them away.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config) error {
	cfg.defaults()
	if cfg.Backend != VXLAN && cfg.Backend != HostGW {
		return fmt.Errorf("pod network backend %q: want %s or %s", cfg.Backend, VXLAN, HostGW)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	nodes := factory.Core().V1().Nodes()
	dirty := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: poke,
		UpdateFunc: func(_, n any) { poke(n) }, DeleteFunc: poke}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		return nil
	}
	announced := false
	for {
		err := func() error {
			self, err := nodes.Lister().Get(cfg.NodeName)
			if err != nil {
				return err
			}
			if cfg.Backend == VXLAN && !announced {
				if self.Annotations[AnnotationVtepMAC] != VtepMAC(cfg.NodeName).String() {
					patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationVtepMAC: VtepMAC(cfg.NodeName).String()}}})
					if _, err := client.CoreV1().Nodes().Patch(ctx, cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
						return fmt.Errorf("publish VTEP MAC: %w", err)
					}
				}
				announced = true
			}
			all, err := nodes.Lister().List(labels.Everything())
			if err != nil {
				return err
			}
			cidr, ok := PodCIDR(self)
			ip := NodeIP(self)
			if !ok || !ip.IsValid() {
				return fmt.Errorf("node %s has no IPv4 pod CIDR or address yet", cfg.NodeName)
			}
			peers := Peers(cfg.NodeName, cidr, ip, all, cfg.Backend)
			if cfg.Backend == HostGW {
				return syncHostGW(peers)
			}
			if len(peers) == 0 {
				// A node alone needs no overlay: no device until there is someone to reach.
				return RemoveAll(cfg.Device)
			}
			link, err := ensureVXLAN(Device{Name: cfg.Device, VNI: cfg.VNI, Port: cfg.Port, LocalIP: ip, MAC: VtepMAC(cfg.NodeName), Addr: cidr.Masked().Addr()})
			if err != nil {
				return err
			}
			return syncVXLAN(link, peers)
		}()
		wait := cfg.Resync
		if err != nil {
			slog.Warn("pod network overlay", "node", cfg.NodeName, "backend", cfg.Backend, "err", err)
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-dirty:
		case <-time.After(wait):
		}
	}
}
