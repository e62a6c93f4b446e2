package apiserver

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

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

// claimIP records ip for svc by creating its IPAddress; an IPAddress of this same Service counts as success.
func (a *serviceAllocator) claimIP(ctx context.Context, svc *corev1.Service, ip string) error {
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
				return nil
			}
		}
		return err
	}
	return err
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
	_, _, _ = a.s.deleteObject(ctx, res, "", ip, &metav1.DeleteOptions{})
}

// allocateIP picks a free address: dynamic allocations come from above a small low block kept for requested
// addresses (as upstream), at random, probing onwards from there.
func (a *serviceAllocator) allocateIP(ctx context.Context, svc *corev1.Service) (string, error) {
	size := a.rangeSize()
	taken := map[string]bool{}
	if all, err := a.s.Lister(networkingv1.SchemeGroupVersion.WithResource("ipaddresses"))(ctx); err == nil {
		for _, o := range all {
			taken[o.(*networkingv1.IPAddress).Name] = true
		}
	}
	usable := size - 2 // network and broadcast (or the last) address are not handed out
	if usable < 1 {
		return "", fmt.Errorf("the service CIDR %s has no usable addresses", a.ranges.CIDR)
	}
	static := min(max(16, size/16), 256)
	if static >= usable {
		static = 0
	}
	start := 1 + static + rand.Int64N(usable-static)
	for i := int64(0); i < usable; i++ {
		off := 1 + (start-1+i)%usable
		ip := a.ipAt(off).String()
		if taken[ip] {
			continue
		}
		err := a.claimIP(ctx, svc, ip)
		if err == nil {
			return ip, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", err
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

// claimNodePort takes port for svc in one etcd transaction (create if absent); the same Service's key counts.
func (a *serviceAllocator) claimNodePort(ctx context.Context, svc *corev1.Service, port int32) (bool, error) {
	key := nodePortPrefix + strconv.Itoa(int(port))
	resp, err := a.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, svcOwner(svc))).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return false, err
	}
	if resp.Succeeded {
		return true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	return len(kvs) == 1 && string(kvs[0].Value) == svcOwner(svc), nil
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
		ok, err := a.claimNodePort(ctx, svc, p)
		if err != nil {
			return 0, err
		}
		if ok {
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
			if err := a.claimIP(ctx, svc, ip.String()); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return fail(invalid(ipsPath, svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", svc.Spec.ClusterIP)))
				}
				return fail(err)
			}
			got.ips = append(got.ips, ip.String())
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
	if !needsNodePorts(svc) {
		return got, nil
	}
	held := map[int32]bool{}
	if old != nil && needsNodePorts(old) {
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 {
				held[p.NodePort] = true
			}
		}
	}
	used := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			used[p.NodePort] = true
		}
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		switch {
		case p.NodePort == 0:
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
			got.ports = append(got.ports, np)
		case held[p.NodePort]:
		default:
			if int(p.NodePort) < a.ranges.NodePortMin || int(p.NodePort) > a.ranges.NodePortMax {
				return fail(invalid(path, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.ranges.NodePortMin, a.ranges.NodePortMax)))
			}
			dup := false
			for _, q := range svc.Spec.Ports[:i] {
				dup = dup || q.NodePort == p.NodePort
			}
			if dup {
				continue
			}
			ok, err := a.claimNodePort(ctx, svc, p.NodePort)
			if err != nil {
				return fail(err)
			}
			if !ok {
				return fail(invalid(path, p.NodePort, "provided port is already allocated"))
			}
			got.ports = append(got.ports, p.NodePort)
		}
	}
	return got, nil
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
	keep := map[int32]bool{}
	if svc != nil && needsNodePorts(svc) {
		for _, p := range svc.Spec.Ports {
			keep[p.NodePort] = true
		}
	}
	if needsNodePorts(old) {
		seen := map[int32]bool{}
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 && !keep[p.NodePort] && !seen[p.NodePort] {
				seen[p.NodePort] = true
				out.ports = append(out.ports, p.NodePort)
			}
		}
	}
	return out
}

// keepAllocated copies what an update leaves out from the old Service, as upstream's service strategy: the
// ClusterIP(s), per port and protocol the NodePort, and the health-check NodePort, while the new Service still
// needs them (a type change lets them go).
func keepAllocated(svc, old *corev1.Service) {
	if svc.Spec.HealthCheckNodePort == 0 && svc.Spec.Type == corev1.ServiceTypeLoadBalancer && old.Spec.Type == corev1.ServiceTypeLoadBalancer {
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
	if needsNodePorts(old) && needsNodePorts(svc) {
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

// RepairServiceAllocations reconciles allocations with Services after a crash: IPAddresses and NodePort keys
// no Service holds are freed; addresses and ports Services hold without a record are recorded.
func (s *Server) RepairServiceAllocations(ctx context.Context) error {
	a := s.svcAlloc
	if a == nil {
		return nil
	}
	svcs, err := s.Lister(corev1.SchemeGroupVersion.WithResource("services"))(ctx)
	if err != nil {
		return err
	}
	ipHolder := map[string]*corev1.Service{}
	portHolder := map[string]string{}
	for _, o := range svcs {
		svc := o.(*corev1.Service)
		if needsClusterIP(svc) && svc.Spec.ClusterIP != "" {
			ipHolder[svc.Spec.ClusterIP] = svc
			if a.inRange(net.ParseIP(svc.Spec.ClusterIP)) {
				_ = a.claimIP(ctx, svc, svc.Spec.ClusterIP)
			}
		}
		if needsNodePorts(svc) {
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					portHolder[strconv.Itoa(int(p.NodePort))] = svcOwner(svc)
					_, _ = a.claimNodePort(ctx, svc, p.NodePort)
				}
			}
		}
	}
	ips, err := s.Lister(networkingv1.SchemeGroupVersion.WithResource("ipaddresses"))(ctx)
	if err != nil {
		return err
	}
	ipRes := s.resources[networkingv1.SchemeGroupVersion.WithResource("ipaddresses")]
	for _, o := range ips {
		ip := o.(*networkingv1.IPAddress)
		if ip.Labels[labelManagedBy] != ipAddressManagedBy {
			continue
		}
		holder := ipHolder[ip.Name]
		if ref := ip.Spec.ParentRef; holder == nil || ref == nil || ref.Namespace != holder.Namespace || ref.Name != holder.Name {
			_, _, _ = s.deleteObject(ctx, ipRes, "", ip.Name, &metav1.DeleteOptions{})
		}
	}
	resp, err := a.etcd.Get(ctx, nodePortPrefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	for _, kv := range resp.Kvs {
		port := strings.TrimPrefix(string(kv.Key), nodePortPrefix)
		if portHolder[port] != string(kv.Value) {
			_, _ = a.etcd.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)).Then(clientv3.OpDelete(string(kv.Key))).Commit()
		}
	}
	return nil
}
