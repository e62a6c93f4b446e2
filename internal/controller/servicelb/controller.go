package servicelb

import (
	"context"
	"net/netip"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controller/controllerutil"
)

// ExcludeLabel keeps a node out of every load balancer (upstream's label).
const ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

type controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
}

// Start registers the controller's handlers on the shared informers and starts its worker, which stops
// when ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	svcInf, nodeInf := factory.Core().V1().Services(), factory.Core().V1().Nodes()
	c := &controller{client: client, services: svcInf.Lister(), nodes: nodeInf.Lister()}
	q := controllerutil.NewQueue("servicelb")
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			q.Add(key)
		}
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}
	// Any node change may change the addresses: resync every LoadBalancer Service (the sync is a no-op
	// when the status already matches).
	allLB := func(any) {
		svcs, _ := c.services.List(labels.Everything())
		for _, s := range svcs {
			if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
				enqueue(s)
			}
		}
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: allLB,
		UpdateFunc: func(old, cur any) {
			// Heartbeats update nodes often; only what Ingress reads matters.
			if o, ok := old.(*corev1.Node); ok {
				if n, ok := cur.(*corev1.Node); ok && ready(o) == ready(n) && hasLabel(o, ExcludeLabel) == hasLabel(n, ExcludeLabel) &&
					slices.Equal(o.Status.Addresses, n.Status.Addresses) {
					return
				}
			}
			allLB(cur)
		},
		DeleteFunc: allLB,
	}); err != nil {
		return err
	}
	controllerutil.Run(ctx, "servicelb", q, 1, c.sync, svcInf.Informer().HasSynced, nodeInf.Informer().HasSynced)
	return nil
}

func (c *controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	want, manage := Desired(svc, nodes)
	if !manage || equalIngress(svc.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	upd := svc.DeepCopy()
	upd.Status.LoadBalancer.Ingress = want
	_, err = c.client.CoreV1().Services(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Desired returns the ingress a Service should have and whether this controller manages it: a
// LoadBalancer Service without loadBalancerClass gets the nodes' addresses; a Service of another type
// gets its load-balancer status cleared; a LoadBalancer Service with a class is someone else's.
func Desired(svc *corev1.Service, nodes []*corev1.Node) ([]corev1.LoadBalancerIngress, bool) {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil, true
	}
	if svc.Spec.LoadBalancerClass != nil {
		return nil, false
	}
	return Ingress(nodes), true
}

// Ingress lists the load-balancer ingress points of the ready nodes: each node's ExternalIPs if it has
// any, else its InternalIPs; sorted, each address once.
func Ingress(nodes []*corev1.Node) []corev1.LoadBalancerIngress {
	seen := map[netip.Addr]bool{}
	var addrs []netip.Addr
	for _, n := range nodes {
		if !ready(n) || hasLabel(n, ExcludeLabel) {
			continue
		}
		for _, typ := range []corev1.NodeAddressType{corev1.NodeExternalIP, corev1.NodeInternalIP} {
			var found []netip.Addr
			for _, a := range n.Status.Addresses {
				if ip, err := netip.ParseAddr(a.Address); a.Type == typ && err == nil {
					found = append(found, ip.Unmap())
				}
			}
			if len(found) == 0 {
				continue
			}
			for _, ip := range found {
				if !seen[ip] {
					seen[ip] = true
					addrs = append(addrs, ip)
				}
			}
			break
		}
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	var out []corev1.LoadBalancerIngress
	vip := corev1.LoadBalancerIPModeVIP
	for _, ip := range addrs {
		out = append(out, corev1.LoadBalancerIngress{IP: ip.String(), IPMode: &vip})
	}
	return out
}

func hasLabel(n *corev1.Node, key string) bool {
	_, ok := n.Labels[key]
	return ok
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func equalIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname && (x.IPMode == nil) == (y.IPMode == nil) &&
			(x.IPMode == nil || *x.IPMode == *y.IPMode) && len(x.Ports) == 0 && len(y.Ports) == 0
	})
}
