package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controller/controllerutil"
)

// Options configure the allocator.
type Options struct {
	// ClusterCIDR is cut into node subnets of MaskSize bits (upstream's default for IPv4: 24).
	ClusterCIDR netip.Prefix
	MaskSize    int
}

// Controller allocates node pod CIDRs.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	recorder record.EventRecorder

	mu  sync.Mutex
	set *CIDRSet
	// inFlight are subnets patched onto nodes the informer has not shown with them yet.
	inFlight map[string]netip.Prefix
}

// New builds the controller on the factory's Node informer.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	set, err := NewCIDRSet(opts.ClusterCIDR, opts.MaskSize)
	if err != nil {
		return nil, err
	}
	return &Controller{client: client, nodes: factory.Core().V1().Nodes().Lister(), recorder: recorder, set: set, inFlight: map[string]netip.Prefix{}}, nil
}

// Start runs the allocator (one worker: allocations must see each other) until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) error {
	c, err := New(client, factory, recorder, opts)
	if err != nil {
		return err
	}
	inf := factory.Core().V1().Nodes().Informer()
	q := controllerutil.NewQueue("nodeipam")
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			q.Add(key)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue}); err != nil {
		return err
	}
	controllerutil.Run(ctx, "nodeipam", q, 1, c.Sync, inf.HasSynced)
	return nil
}

// Sync gives the named node a pod CIDR when it has none.
func (c *Controller) Sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.inFlight, name)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	if node.Spec.PodCIDR != "" || len(node.Spec.PodCIDRs) > 0 {
		c.mu.Lock()
		delete(c.inFlight, name)
		c.mu.Unlock()
		return nil
	}
	cidr, err := c.pick(name)
	if errors.Is(err, ErrFull) {
		c.recorder.Eventf(node, corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", name)
		return err
	}
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr.String(), "podCIDRs": []string{cidr.String()}}})
	_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	switch {
	case err == nil:
		slog.Info("node pod CIDR allocated", "node", name, "podCIDR", cidr.String())
		return nil
	case apierrors.IsNotFound(err):
		c.mu.Lock()
		delete(c.inFlight, name)
		c.mu.Unlock()
		return nil
	default:
		// The subnet stays in flight for this node: the retry patches the same one. A patch that did land
		// (the answer was lost) is then a no-op, never a second subnet.
		c.recorder.Eventf(node, corev1.EventTypeNormal, "CIDRAssignmentFailed", "Node %s status is now: CIDRAssignmentFailed", name)
		return fmt.Errorf("node %s: set pod CIDR %s: %w", name, cidr, err)
	}
}

// pick returns the node's in-flight subnet or a new one that no Node and no in-flight allocation holds.
func (c *Controller) pick(name string) (netip.Prefix, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.inFlight[name]; ok {
		return p, nil
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return netip.Prefix{}, err
	}
	used := map[netip.Prefix]bool{}
	for _, n := range nodes {
		for _, s := range append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...) {
			if p, err := netip.ParsePrefix(s); err == nil {
				used[p.Masked()] = true
			}
		}
	}
	for _, p := range c.inFlight {
		used[p] = true
	}
	p, err := c.set.Allocate(func(p netip.Prefix) bool { return overlapsAny(p, used) })
	if err != nil {
		return netip.Prefix{}, err
	}
	c.inFlight[name] = p
	return p, nil
}

// overlapsAny says whether p overlaps a used prefix (a hand-set podCIDR may be of another size).
func overlapsAny(p netip.Prefix, used map[netip.Prefix]bool) bool {
	if used[p] {
		return true
	}
	for u := range used {
		if u.Overlaps(p) {
			return true
		}
	}
	return false
}
