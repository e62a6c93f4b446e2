package apiserver

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Service ClusterIPs and NodePorts are allocated by the API server, as upstream's, without races between
// requests or servers: a ClusterIP is taken by creating its networking.k8s.io/v1 IPAddress object (named by the
// address, so etcd refuses a second owner), a NodePort by creating a key under nodePortPrefix in one etcd
// transaction. Both record their Service, so a retried request recognises its own allocation, and both are
// freed when the Service lets go of them (delete, type change, port removed). Repair (RepairServiceAllocations)
// frees what a crash left behind and records what Services hold but no allocation says.

const (
	nodePortPrefix       = "/registry/skiff/servicenodeports/"
	ipAddressManagedBy   = "ipallocator.k8s.io"
	labelIPAddressFamily = "ipaddress.kubernetes.io/ip-family"
	labelManagedBy       = "ipaddress.kubernetes.io/managed-by"
)

// ServiceRanges configures allocation.
type ServiceRanges struct {
	// CIDR is the Service ClusterIP range (--service-cidr).
	CIDR *net.IPNet
	// NodePortMin and NodePortMax bound NodePorts (--service-node-port-range), inclusive.
	NodePortMin, NodePortMax int
}

type serviceAllocator struct {
	s      *Server
	ranges ServiceRanges
	etcd   *clientv3.Client
	// suspects are records the last repair found without a Service.
	mu       sync.Mutex
	suspects map[string]bool
}

func svcOwner(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// needsClusterIP: every Service but ExternalName and headless ones.
func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func needsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// rangeSize is the number of addresses in the CIDR (capped at 2^20 for picking).
func (a *serviceAllocator) rangeSize() int64 {
	ones, bits := a.ranges.CIDR.Mask.Size()
	if bits-ones >= 20 {
		return 1 << 20
	}
	return 1 << (bits - ones)
}

func (a *serviceAllocator) ipAt(offset int64) net.IP {
	base := new(big.Int).SetBytes(a.ranges.CIDR.IP.To16())
	ip := new(big.Int).Add(base, big.NewInt(offset)).Bytes()
	out := make(net.IP, 16)
	copy(out[16-len(ip):], ip)
	if v4 := out.To4(); v4 != nil && a.ranges.CIDR.IP.To4() != nil {
		return v4
	}
	return out
}

// FirstServiceIP is the range's first usable address (the `kubernetes` Service's).
func FirstServiceIP(cidr *net.IPNet) net.IP {
	a := &serviceAllocator{ranges: ServiceRanges{CIDR: cidr}}
	return a.ipAt(1)
}

// claimIP records ip for svc by creating its IPAddress. An IPAddress this same Service already holds counts as
// success but not as created (so a failed write does not free what the Service held before).
func (a *serviceAllocator) claimIP(ctx context.Context, svc *corev1.Service, ip string) (bool, error) {
	res := a.s.resources[networkingv1.SchemeGroupVersion.WithResource("ipaddresses")]
	family := "IPv4"
	if strings.Contains(ip, ":") {
		family = "IPv6"
	}
	obj := &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: ip,
		Labels: map[string]string{labelIPAddressFamily: family, labelManagedBy: ipAddressManagedBy}},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: svc.Namespace, Name: svc.Name}}}
	_, err := a.s.createObject(ctx, res, "", obj, writeOptions{manager: "kube-apiserver"})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := a.s.getObject(ctx, res, "", ip, "")
		if gerr == nil {
			if ref := cur.(*networkingv1.IPAddress).Spec.ParentRef; ref != nil && ref.Resource == "services" && ref.Namespace == svc.Namespace && ref.Name == svc.Name {
				return false, nil
			}
		}
		return false, err
	}
	return err == nil, err
}

func (a *serviceAllocator) releaseIP(ctx context.Context, svc *corev1.Service, ip string) {
	res := a.s.resources[networkingv1.SchemeGroupVersion.WithResource("ipaddresses")]
	cur, err := a.s.getObject(ctx, res, "", ip, "")
	if err != nil {
		return
	}
	if ref := cur.(*networkingv1.IPAddress).Spec.ParentRef; ref == nil || ref.Namespace != svc.Namespace || ref.Name != svc.Name {
		return
	}
	_, _, _ = a.s.deleteObject(ctx, res, "", ip, &metav1.DeleteOptions{}, false)
}

// allocateIP picks a free address: dynamic allocations come from above a small low block kept for requested
// addresses (as upstream), at random; after a few taken picks it scans the range against the list of
// addresses in use.
func (a *serviceAllocator) allocateIP(ctx context.Context, svc *corev1.Service) (string, error) {
	size := a.rangeSize()
	usable := size - 2 // network and broadcast (or the last) address are not handed out
	if usable < 1 {
		return "", fmt.Errorf("the service CIDR %s has no usable addresses", a.ranges.CIDR)
	}
	static := min(max(16, size/16), 256)
	if static >= usable {
		static = 0
	}
	try := func(off int64) (string, bool, error) {
		ip := a.ipAt(off).String()
		created, err := a.claimIP(ctx, svc, ip)
		if err == nil && created {
			return ip, true, nil
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return "", false, err
		}
		return "", false, nil
	}
	for i := 0; i < 16; i++ {
		if ip, ok, err := try(1 + static + rand.Int64N(usable-static)); ok || err != nil {
			return ip, err
		}
	}
	taken := map[string]bool{}
	if all, err := a.s.Lister(networkingv1.SchemeGroupVersion.WithResource("ipaddresses"))(ctx); err == nil {
		for _, o := range all {
			taken[o.(*networkingv1.IPAddress).Name] = true
		}
	}
	start := 1 + static + rand.Int64N(usable-static)
	for i := int64(0); i < usable; i++ {
		off := 1 + (start-1+i)%usable
		if taken[a.ipAt(off).String()] {
			continue
		}
		if ip, ok, err := try(off); ok || err != nil {
			return ip, err
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("range is full"))
}

func (a *serviceAllocator) inRange(ip net.IP) bool {
	if ip == nil || !a.ranges.CIDR.Contains(ip) {
		return false
	}
	return !ip.Equal(a.ranges.CIDR.IP) && !ip.Equal(a.ipAt(a.rangeSize()-1))
}

// claimNodePort takes port for svc in one etcd transaction (create if absent). ok: svc holds it now;
// created: this call took it (a key the same Service already held is ok but not created).
func (a *serviceAllocator) claimNodePort(ctx context.Context, svc *corev1.Service, port int32) (ok, created bool, err error) {
	key := nodePortPrefix + strconv.Itoa(int(port))
	resp, err := a.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, svcOwner(svc))).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return false, false, err
	}
	if resp.Succeeded {
		return true, true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	return len(kvs) == 1 && string(kvs[0].Value) == svcOwner(svc), false, nil
}

func (a *serviceAllocator) releaseNodePort(ctx context.Context, svc *corev1.Service, port int32) {
	key := nodePortPrefix + strconv.Itoa(int(port))
	_, _ = a.etcd.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", svcOwner(svc))).Then(clientv3.OpDelete(key)).Commit()
}

func (a *serviceAllocator) allocateNodePort(ctx context.Context, svc *corev1.Service, used map[int32]bool) (int32, error) {
	n := a.ranges.NodePortMax - a.ranges.NodePortMin + 1
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		p := int32(a.ranges.NodePortMin + (start+i)%n)
		if used[p] {
			continue
		}
		ok, created, err := a.claimNodePort(ctx, svc, p)
		if err != nil {
			return 0, err
		}
		if ok && created {
			return p, nil
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("range is full"))
}

// allocation is what one write took, to undo if the write fails.
type allocation struct {
	ips   []string
	ports []int32
}

func (a *serviceAllocator) undo(ctx context.Context, svc *corev1.Service, got allocation) {
	for _, ip := range got.ips {
		a.releaseIP(ctx, svc, ip)
	}
	for _, p := range got.ports {
		a.releaseNodePort(ctx, svc, p)
	}
}

// allocate fills in and claims what svc needs that old (nil on create) did not already hold: its ClusterIP
// (the requested one, checked against the range, or a free one) and NodePorts. Errors are 422 Invalid naming
// the field, as upstream's.
func (a *serviceAllocator) allocate(ctx context.Context, svc, old *corev1.Service) (allocation, error) {
	var got allocation
	fail := func(err error) (allocation, error) {
		a.undo(ctx, svc, got)
		return allocation{}, err
	}
	invalid := func(p *field.Path, v any, msg string) error {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{field.Invalid(p, v, msg)})
	}
	oldIP := ""
	if old != nil && needsClusterIP(old) {
		oldIP = old.Spec.ClusterIP
	}
	if needsClusterIP(svc) && (svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP != oldIP) {
		ipsPath := field.NewPath("spec", "clusterIPs").Index(0)
		if svc.Spec.ClusterIP == "" {
			ip, err := a.allocateIP(ctx, svc)
			if err != nil {
				return fail(apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %v", err)))
			}
			got.ips = append(got.ips, ip)
			svc.Spec.ClusterIP = ip
			svc.Spec.ClusterIPs = []string{ip}
		} else {
			ip := net.ParseIP(svc.Spec.ClusterIP)
			if !a.inRange(ip) {
				return fail(invalid(ipsPath, svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s",
					svc.Spec.ClusterIP, svc.Spec.ClusterIP, a.ranges.CIDR)))
			}
			created, err := a.claimIP(ctx, svc, ip.String())
			if err != nil {
				if apierrors.IsAlreadyExists(err) {
					return fail(invalid(ipsPath, svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", svc.Spec.ClusterIP)))
				}
				return fail(err)
			}
			if created {
				got.ips = append(got.ips, ip.String())
			}
			if len(svc.Spec.ClusterIPs) == 0 {
				svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
			}
		}
		if len(svc.Spec.IPFamilies) == 0 {
			fam := corev1.IPv4Protocol
			if strings.Contains(svc.Spec.ClusterIP, ":") {
				fam = corev1.IPv6Protocol
			}
			svc.Spec.IPFamilies = []corev1.IPFamily{fam}
		}
		if svc.Spec.IPFamilyPolicy == nil {
			single := corev1.IPFamilyPolicySingleStack
			svc.Spec.IPFamilyPolicy = &single
		}
	}
	// NodePort and LoadBalancer Services hold the NodePorts they name; missing ones are allocated unless a
	// LoadBalancer says allocateLoadBalancerNodePorts: false. A LoadBalancer with externalTrafficPolicy Local
	// also holds a health-check NodePort.
	if !usesNodePorts(svc) {
		return got, nil
	}
	held := heldPorts(old)
	used := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			used[p.NodePort] = true
		}
	}
	claim := func(port int32, path *field.Path) error {
		if held[port] {
			return nil
		}
		if int(port) < a.ranges.NodePortMin || int(port) > a.ranges.NodePortMax {
			return invalid(path, port, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.ranges.NodePortMin, a.ranges.NodePortMax))
		}
		ok, created, err := a.claimNodePort(ctx, svc, port)
		if err != nil {
			return err
		}
		if !ok {
			return invalid(path, port, "provided port is already allocated")
		}
		if created {
			got.ports = append(got.ports, port)
		}
		held[port] = true
		return nil
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if p.NodePort == 0 {
			if !needsNodePorts(svc) {
				continue
			}
			// Ports of one number but different protocols share their NodePort, as upstream.
			for _, q := range svc.Spec.Ports[:i] {
				if q.Port == p.Port && q.NodePort != 0 {
					p.NodePort = q.NodePort
				}
			}
			if p.NodePort != 0 {
				continue
			}
			np, err := a.allocateNodePort(ctx, svc, used)
			if err != nil {
				return fail(err)
			}
			p.NodePort = np
			used[np] = true
			held[np] = true
			got.ports = append(got.ports, np)
			continue
		}
		if err := claim(p.NodePort, path); err != nil {
			return fail(err)
		}
	}
	if needsHealthCheck(svc) {
		path := field.NewPath("spec", "healthCheckNodePort")
		if svc.Spec.HealthCheckNodePort == 0 {
			np, err := a.allocateNodePort(ctx, svc, used)
			if err != nil {
				return fail(err)
			}
			svc.Spec.HealthCheckNodePort = np
			got.ports = append(got.ports, np)
		} else if err := claim(svc.Spec.HealthCheckNodePort, path); err != nil {
			return fail(err)
		}
	}
	return got, nil
}

func usesNodePorts(svc *corev1.Service) bool {
	return svc != nil && (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer)
}

func needsHealthCheck(svc *corev1.Service) bool {
	return svc != nil && svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// heldPorts are the NodePorts (and health-check port) svc holds.
func heldPorts(svc *corev1.Service) map[int32]bool {
	out := map[int32]bool{}
	if !usesNodePorts(svc) {
		return out
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out[p.NodePort] = true
		}
	}
	if needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort != 0 {
		out[svc.Spec.HealthCheckNodePort] = true
	}
	return out
}

// minus is what got took that svc does not hold (allocations of update attempts that did not last).
func minus(got allocation, svc *corev1.Service) allocation {
	var out allocation
	ip := ""
	if needsClusterIP(svc) {
		ip = svc.Spec.ClusterIP
	}
	for _, x := range got.ips {
		if x != ip {
			out.ips = append(out.ips, x)
		}
	}
	held := heldPorts(svc)
	for _, p := range got.ports {
		if !held[p] {
			out.ports = append(out.ports, p)
		}
	}
	return out
}

// released lists what old held that svc (nil when deleted) no longer does.
func released(svc, old *corev1.Service) allocation {
	var out allocation
	if old == nil {
		return out
	}
	if needsClusterIP(old) && old.Spec.ClusterIP != "" && (svc == nil || !needsClusterIP(svc) || svc.Spec.ClusterIP != old.Spec.ClusterIP) {
		out.ips = append(out.ips, old.Spec.ClusterIP)
	}
	keep := heldPorts(svc)
	for p := range heldPorts(old) {
		if !keep[p] {
			out.ports = append(out.ports, p)
		}
	}
	return out
}

// keepAllocated copies what an update leaves out from the old Service, as upstream's service strategy: the
// ClusterIP(s), per port and protocol the NodePort, and the health-check NodePort, while the new Service still
// needs them (a type change lets them go).
func keepAllocated(svc, old *corev1.Service) {
	dropTypeDependentFields(svc, old)
	if svc.Spec.HealthCheckNodePort == 0 && needsHealthCheck(svc) && needsHealthCheck(old) {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
	if needsClusterIP(old) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = append([]string(nil), old.Spec.ClusterIPs...)
		}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = old.Spec.IPFamilies
		}
		if svc.Spec.IPFamilyPolicy == nil {
			svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
		}
	}
	if usesNodePorts(old) && usesNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			for _, q := range old.Spec.Ports {
				if q.Port == p.Port && q.Protocol == p.Protocol {
					p.NodePort = q.NodePort
				}
			}
		}
	}
}

// dropTypeDependentFields clears, when the type changes, the fields the old type set and the new one cannot
// have, if the update left them as they were (as upstream): NodePorts and the health-check port, the
// externalTrafficPolicy of Services no longer reachable from outside, and the ClusterIPs of a Service turned
// ExternalName.
func dropTypeDependentFields(svc, old *corev1.Service) {
	if svc.Spec.Type == old.Spec.Type {
		return
	}
	if !usesNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			for _, q := range old.Spec.Ports {
				if q.Port == p.Port && q.Protocol == p.Protocol && q.NodePort == p.NodePort {
					p.NodePort = 0
				}
			}
		}
	}
	if !needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	external := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer ||
		(svc.Spec.Type == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
	if !external && svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && svc.Spec.AllocateLoadBalancerNodePorts != nil &&
		old.Spec.AllocateLoadBalancerNodePorts != nil && *svc.Spec.AllocateLoadBalancerNodePorts == *old.Spec.AllocateLoadBalancerNodePorts {
		svc.Spec.AllocateLoadBalancerNodePorts = nil
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.ClusterIP == old.Spec.ClusterIP {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs, svc.Spec.IPFamilies, svc.Spec.IPFamilyPolicy = "", nil, nil, nil
	}
}

// RepairServiceAllocations reconciles allocations with Services after a crash: IPAddresses and NodePort keys
// no Service holds are freed, once seen orphaned by two runs in a row (a create may have taken one and not yet
// written its Service); addresses and ports Services hold without a record are recorded. The records are read
// before the Services, so a record and its Service written in between are both seen.
func (s *Server) RepairServiceAllocations(ctx context.Context) error {
	a := s.svcAlloc
	if a == nil {
		return nil
	}
	ips, err := s.Lister(networkingv1.SchemeGroupVersion.WithResource("ipaddresses"))(ctx)
	if err != nil {
		return err
	}
	resp, err := a.etcd.Get(ctx, nodePortPrefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	svcs, err := s.Lister(corev1.SchemeGroupVersion.WithResource("services"))(ctx)
	if err != nil {
		return err
	}
	ipHolder := map[string]string{}
	portHolder := map[string]string{}
	for _, o := range svcs {
		svc := o.(*corev1.Service)
		if needsClusterIP(svc) && svc.Spec.ClusterIP != "" {
			ipHolder[svc.Spec.ClusterIP] = svcOwner(svc)
			if a.inRange(net.ParseIP(svc.Spec.ClusterIP)) {
				_, _ = a.claimIP(ctx, svc, svc.Spec.ClusterIP)
			}
		}
		for p := range heldPorts(svc) {
			portHolder[strconv.Itoa(int(p))] = svcOwner(svc)
			_, _, _ = a.claimNodePort(ctx, svc, p)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	suspects := map[string]bool{}
	ipRes := s.resources[networkingv1.SchemeGroupVersion.WithResource("ipaddresses")]
	for _, o := range ips {
		ip := o.(*networkingv1.IPAddress)
		if ip.Labels[labelManagedBy] != ipAddressManagedBy {
			continue
		}
		owner := ""
		if ref := ip.Spec.ParentRef; ref != nil {
			owner = ref.Namespace + "/" + ref.Name
		}
		if ipHolder[ip.Name] == owner {
			continue
		}
		key := "ip/" + ip.Name + "/" + string(ip.UID)
		if a.suspects[key] {
			_, _, _ = s.deleteObject(ctx, ipRes, "", ip.Name, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &ip.UID}}, false)
		} else {
			suspects[key] = true
		}
	}
	for _, kv := range resp.Kvs {
		port := strings.TrimPrefix(string(kv.Key), nodePortPrefix)
		if portHolder[port] == string(kv.Value) {
			continue
		}
		key := fmt.Sprintf("port/%s/%d", port, kv.ModRevision)
		if a.suspects[key] {
			_, _ = a.etcd.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)).Then(clientv3.OpDelete(string(kv.Key))).Commit()
		} else {
			suspects[key] = true
		}
	}
	a.suspects = suspects
	return nil
}
