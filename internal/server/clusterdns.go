package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// How pods reach the cluster DNS (the kube-dns Service, clusterIP --cluster-dns):
//
//	pod ─▶ 10.43.0.10:53 ─(proxy DNAT, as any Service)─▶ <pod gateway>:<dns port> on this node ─▶ DNS server
//
// The DNS server listens on 127.0.0.1:10053 for the host, which pods cannot be DNATed to, so it also binds
// the pod network's gateway address (the skiff0 bridge's, 10.42.0.1 by default) on the same port. The
// kube-dns Service has no selector; this node publishes its own EndpointSlice naming that address.

// dnsPodsAddress is where pods' DNS traffic lands: the gateway of this node's pod subnet (its first
// address, the bridge's), on --dns-listen's port.
func dnsPodsAddress(cfg Config, podCIDR netip.Prefix) (string, error) {
	if !podCIDR.Addr().Is4() {
		return "", fmt.Errorf("pod CIDR %s: not IPv4", podCIDR)
	}
	_, port, err := net.SplitHostPort(cfg.DNSListen)
	if err != nil || port == "0" {
		return "", fmt.Errorf("--dns-listen %q: needs a fixed port", cfg.DNSListen)
	}
	return net.JoinHostPort(podCIDR.Masked().Addr().Next().String(), port), nil
}

// bootstrapDNSService creates the kube-dns Service (clusterIP ip, ports 53 UDP and TCP, as upstream) and
// this node's EndpointSlice pointing at podsAddr. Both are left as they are when they already match.
func bootstrapDNSService(ctx context.Context, client kubernetes.Interface, ip, podsAddr, nodeName string) error {
	host, portStr, err := net.SplitHostPort(podsAddr)
	if err != nil {
		return err
	}
	port64, err := strconv.ParseInt(portStr, 10, 32)
	if err != nil {
		return err
	}
	port := int32(port64)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem,
		Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "kubernetes.io/cluster-service": "true"}},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(port)},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}}}}
	cur, err := client.CoreV1().Services(metav1.NamespaceSystem).Get(ctx, "kube-dns", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := client.CoreV1().Services(metav1.NamespaceSystem).Create(ctx, svc, metav1.CreateOptions{FieldManager: "skiff-bootstrap"}); err != nil {
			return err
		}
	case err != nil:
		return err
	case cur.Spec.ClusterIP != ip:
		return fmt.Errorf("kube-system/kube-dns has clusterIP %s, not --cluster-dns %s (delete it to change)", cur.Spec.ClusterIP, ip)
	}
	ready := true
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dns, dnsTCP := "dns", "dns-tcp"
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-" + nodeName, Namespace: metav1.NamespaceSystem,
		Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns", discoveryv1.LabelManagedBy: "skiff-server"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{host}, NodeName: &nodeName,
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &ready}}},
		Ports: []discoveryv1.EndpointPort{{Name: &dns, Protocol: &udp, Port: &port}, {Name: &dnsTCP, Protocol: &tcp, Port: &port}}}
	// Owned by the Node: when the Node is deleted, the garbage collector removes its DNS endpoint.
	if node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{}); err == nil {
		slice.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
	}
	slices := client.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem)
	if cur, err := slices.Get(ctx, slice.Name, metav1.GetOptions{}); err == nil {
		if apiequality.Semantic.DeepEqual([]any{cur.Endpoints, cur.Ports, cur.Labels, cur.OwnerReferences},
			[]any{slice.Endpoints, slice.Ports, slice.Labels, slice.OwnerReferences}) {
			return nil
		}
		cur.Endpoints, cur.Ports, cur.Labels, cur.OwnerReferences = slice.Endpoints, slice.Ports, slice.Labels, slice.OwnerReferences
		_, err = slices.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "skiff-bootstrap"})
		return err
	}
	_, err = slices.Create(ctx, slice, metav1.CreateOptions{FieldManager: "skiff-bootstrap"})
	return err
}
