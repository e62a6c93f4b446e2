package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"skiff/internal/admission"
	bootstraptoken "skiff/internal/auth/bootstrap"
)

// systemNamespaces exist from the start, as on upstream clusters.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates the objects every cluster has, through the API like any client. Objects that already exist
// are not written again: a restart then sends no write through admission, so a webhook with failurePolicy Fail
// whose backend runs in the cluster (and is down until the server is up) cannot block the start.
func bootstrap(ctx context.Context, client kubernetes.Interface) error {
	for _, name := range systemNamespaces {
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			if _, err = client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err == nil {
				break
			}
			if apierrors.IsNotFound(err) {
				_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{FieldManager: "skiff-bootstrap"})
				if err == nil || apierrors.IsAlreadyExists(err) {
					err = nil
					break
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err != nil {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
	}
	for _, pc := range admission.SystemPriorityClasses {
		pc := pc
		_, err := client.SchedulingV1().PriorityClasses().Get(ctx, pc.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = client.SchedulingV1().PriorityClasses().Create(ctx, &pc, metav1.CreateOptions{FieldManager: "skiff-bootstrap"})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("priority class %s: %w", pc.Name, err)
		}
	}
	return nil
}

// bootstrapClusterInfo publishes kube-public/cluster-info, as kubeadm does: a kubeconfig naming this server and
// the cluster CA, without credentials, that the bootstrap signer signs with each bootstrap token so a joining
// node can trust it. It is created when missing and its kubeconfig rewritten when the server or CA changed.
func bootstrapClusterInfo(ctx context.Context, client kubernetes.Interface, server string, caPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	cms := client.CoreV1().ConfigMaps(bootstraptoken.ClusterInfoNamespace)
	cm, err := cms.Get(ctx, bootstraptoken.ClusterInfoConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: bootstraptoken.ClusterInfoConfigMap, Namespace: bootstraptoken.ClusterInfoNamespace},
			Data: map[string]string{bootstraptoken.KubeconfigKey: string(data)}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: "skiff-bootstrap"})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	case err != nil:
		return err
	case cm.Data[bootstraptoken.KubeconfigKey] == string(data):
		return nil
	}
	cm = cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[bootstraptoken.KubeconfigKey] = string(data)
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "skiff-bootstrap"})
	return err
}

// bootstrapKubernetesService makes default/kubernetes point at this API server, as upstream's endpoint
// reconciler does: the Service on the range's first address, port 443 "https", and an Endpoints and an
// EndpointSlice naming the advertised address and port (kept up to date at every start).
func bootstrapKubernetesService(ctx context.Context, client kubernetes.Interface, ip net.IP, address string, port int) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
		Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{ClusterIP: ip.String(), Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(port))}}}}
	if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Create(ctx, svc, metav1.CreateOptions{FieldManager: "skiff-bootstrap"}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	} else if err != nil {
		return err
	}
	// Endpoints may not be loopback addresses (upstream's validation): a server advertised on loopback is
	// reached through the host's first other address, as upstream picks its default interface.
	addr := address
	if ip := net.ParseIP(addr); ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		addr = hostAddress()
	}
	if addr == "" {
		slog.Warn("no non-loopback address: the kubernetes Service has no endpoints")
		return nil
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
		Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: addr}},
			Ports: []corev1.EndpointPort{{Name: "https", Port: int32(port), Protocol: corev1.ProtocolTCP}}}}}
	if cur, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		if !apiequality.Semantic.DeepEqual([]any{cur.Subsets, cur.Labels}, []any{ep.Subsets, ep.Labels}) {
			cur.Subsets, cur.Labels = ep.Subsets, ep.Labels
			if _, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Update(ctx, cur, metav1.UpdateOptions{FieldManager: "skiff-bootstrap"}); err != nil {
				return err
			}
		}
	} else if _, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Create(ctx, ep, metav1.CreateOptions{FieldManager: "skiff-bootstrap"}); err != nil {
		return err
	}
	ready := true
	name, proto, p := "https", corev1.ProtocolTCP, int32(port)
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
		Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &p}}}
	if cur, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		if apiequality.Semantic.DeepEqual([]any{cur.Endpoints, cur.Ports, cur.Labels}, []any{slice.Endpoints, slice.Ports, slice.Labels}) {
			return nil
		}
		cur.Endpoints, cur.Ports, cur.Labels = slice.Endpoints, slice.Ports, slice.Labels
		_, err = client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Update(ctx, cur, metav1.UpdateOptions{FieldManager: "skiff-bootstrap"})
		return err
	}
	_, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, slice, metav1.CreateOptions{FieldManager: "skiff-bootstrap"})
	return err
}

// hostAddress is the first non-loopback IPv4 address of an interface that is up.
func hostAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 || strings.HasPrefix(iface.Name, "skiff") {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return ""
}
