package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestServiceAllocation: the API server hands out ClusterIPs and NodePorts from its ranges, honours and
// checks requested ones, frees them on delete and type changes, repairs leaks at start, and keeps the
// default/kubernetes Service pointing at itself.
func TestServiceAllocation(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--service-cidr=10.96.0.0/24", "--service-node-port-range=30100-30199"}})
	ctx := context.Background()
	svcs := c.Client.CoreV1().Services("default")
	_, cidr, _ := net.ParseCIDR("10.96.0.0/24")

	k, err := svcs.Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || k.Spec.ClusterIP != "10.96.0.1" || k.Spec.Ports[0].Port != 443 {
		t.Fatalf("kubernetes Service: %v %+v", err, k)
	}
	ep, err := c.Client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	// Advertised on loopback, the server is reached through the host's address (endpoints may not be loopback).
	if err != nil || len(ep.Subsets) != 1 || net.ParseIP(ep.Subsets[0].Addresses[0].IP).IsLoopback() || int(ep.Subsets[0].Ports[0].Port) != c.Port {
		t.Fatalf("kubernetes Endpoints: %v %+v", err, ep)
	}
	mustContain(t, kubectl(t, c, "get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes"), "kubernetes", ep.Subsets[0].Addresses[0].IP)

	kubectl(t, c, "create", "service", "clusterip", "web", "--tcp=80:8080")
	web, _ := svcs.Get(ctx, "web", metav1.GetOptions{})
	ip := net.ParseIP(web.Spec.ClusterIP)
	if !cidr.Contains(ip) || len(web.Spec.ClusterIPs) != 1 || web.Spec.ClusterIPs[0] != web.Spec.ClusterIP || web.Spec.IPFamilies[0] != corev1.IPv4Protocol {
		t.Fatalf("allocated %v (%v, %v)", web.Spec.ClusterIP, web.Spec.ClusterIPs, web.Spec.IPFamilies)
	}
	for ip, owner := range map[string]string{web.Spec.ClusterIP: "web", "10.96.0.1": "kubernetes"} {
		a, err := c.Client.NetworkingV1().IPAddresses().Get(ctx, ip, metav1.GetOptions{})
		if err != nil || a.Spec.ParentRef == nil || a.Spec.ParentRef.Name != owner {
			t.Fatalf("IPAddress %s: %v %+v", ip, err, a)
		}
	}
	mustContain(t, kubectl(t, c, "get", "ipaddresses"), web.Spec.ClusterIP, "services")

	// A requested address is honoured, a taken one and one outside the range are refused with the field.
	kubectl(t, c, "create", "service", "clusterip", "fixed", "--tcp=80:80", "--clusterip=10.96.0.5")
	errOut := kubectlFails(t, c, "create", "service", "clusterip", "dup", "--tcp=80:80", "--clusterip=10.96.0.5")
	mustContain(t, errOut, "spec.clusterIPs[0]", "provided IP is already allocated")
	errOut = kubectlFails(t, c, "create", "service", "clusterip", "outside", "--tcp=80:80", "--clusterip=10.1.2.3")
	mustContain(t, errOut, "is not in the valid range. The range of valid IPs is 10.96.0.0/24")
	// Freed on delete: the address can be asked for again.
	kubectl(t, c, "delete", "service", "fixed")
	kubectl(t, c, "create", "service", "clusterip", "again", "--tcp=80:80", "--clusterip=10.96.0.5")

	// NodePorts: allocated in range, a requested one checked, freed when the type goes back to ClusterIP.
	kubectl(t, c, "create", "service", "nodeport", "np", "--tcp=80:8080")
	np, _ := svcs.Get(ctx, "np", metav1.GetOptions{})
	if p := np.Spec.Ports[0].NodePort; p < 30100 || p > 30199 {
		t.Fatalf("nodePort %d outside 30100-30199", p)
	}
	taken := np.Spec.Ports[0].NodePort
	errOut = kubectlFails(t, c, "create", "service", "nodeport", "np2", "--tcp=80:8080", fmt.Sprintf("--node-port=%d", taken))
	mustContain(t, errOut, "spec.ports[0].nodePort", "provided port is already allocated")
	errOut = kubectlFails(t, c, "create", "service", "nodeport", "np3", "--tcp=80:8080", "--node-port=31000")
	mustContain(t, errOut, "provided port is not in the valid range. The range of valid ports is 30100-30199")
	// An update that leaves clusterIP and nodePort out keeps them (as kubectl replace of an edited copy does).
	np.Spec.ClusterIP, np.Spec.ClusterIPs = "", nil
	np.Spec.Ports[0].NodePort = 0
	np.Spec.Ports[0].TargetPort.IntVal = 9090
	updated, err := svcs.Update(ctx, np, metav1.UpdateOptions{})
	if err != nil || updated.Spec.Ports[0].NodePort != taken || updated.Spec.ClusterIP == "" {
		t.Fatalf("update without allocated fields: %v %+v", err, updated)
	}
	// A type change drops the fields the new type cannot have (the NodePort, externalTrafficPolicy) and frees
	// the port.
	kubectl(t, c, "patch", "service", "np", "-p", `{"spec":{"type":"ClusterIP"}}`)
	kubectl(t, c, "create", "service", "nodeport", "np4", "--tcp=80:8080", fmt.Sprintf("--node-port=%d", taken))
	// Creating the same Service again fails and does not free what the first one holds.
	np4, _ := svcs.Get(ctx, "np4", metav1.GetOptions{})
	np4.ResourceVersion, np4.UID = "", ""
	if _, err := svcs.Create(ctx, np4, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create of np4: %v", err)
	}
	errOut = kubectlFails(t, c, "create", "service", "nodeport", "np5", "--tcp=80:8080", fmt.Sprintf("--node-port=%d", taken))
	mustContain(t, errOut, "provided port is already allocated")
	// A LoadBalancer with externalTrafficPolicy Local gets a health-check NodePort in range.
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Selector: map[string]string{"app": "lb"},
		Ports: []corev1.ServicePort{{Port: 80}}}}
	lbOut, err := svcs.Create(ctx, lb, metav1.CreateOptions{})
	if err != nil || lbOut.Spec.HealthCheckNodePort < 30100 || lbOut.Spec.HealthCheckNodePort > 30199 || lbOut.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("LoadBalancer Local: %v %+v", err, lbOut)
	}

	// Headless and ExternalName Services take no address.
	kubectl(t, c, "create", "service", "clusterip", "headless", "--clusterip=None")
	kubectl(t, c, "create", "service", "externalname", "ext", "--external-name=example.com")
	all, _ := c.Client.NetworkingV1().IPAddresses().List(ctx, metav1.ListOptions{})
	for _, n := range []string{"headless", "ext"} {
		s, _ := svcs.Get(ctx, n, metav1.GetOptions{})
		if s.Spec.ClusterIP != "None" && s.Spec.ClusterIP != "" {
			t.Fatalf("%s got %q", n, s.Spec.ClusterIP)
		}
		for _, a := range all.Items {
			if a.Spec.ParentRef != nil && a.Spec.ParentRef.Name == n {
				t.Fatalf("%s holds address %s", n, a.Name)
			}
		}
	}

	// A leaked address (its Service gone, as after a crash between the two writes) is freed at start. It is
	// taken from the low block dynamic allocation leaves to requested addresses, so no Service here holds it.
	leak := &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.9", Labels: map[string]string{
		"ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io", "ipaddress.kubernetes.io/ip-family": "IPv4"}},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "vanished"}}}
	if _, err := c.Client.NetworkingV1().IPAddresses().Create(ctx, leak, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Restart(t)
	// Freed by the second repair run, 30 s after start (two runs must agree it is orphaned).
	eventually(t, 60*time.Second, func() error {
		if _, err := c.Client.NetworkingV1().IPAddresses().Get(ctx, "10.96.0.9", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("leaked address still there: %v", err)
		}
		return nil
	})
	// What Services hold survives the restart (the kubernetes Service is created again at every start).
	for _, ip := range []string{web.Spec.ClusterIP, "10.96.0.1"} {
		if _, err := c.Client.NetworkingV1().IPAddresses().Get(ctx, ip, metav1.GetOptions{}); err != nil {
			t.Fatalf("address %s lost at restart: %v", ip, err)
		}
	}
	errOut = kubectlFails(t, c, "create", "service", "nodeport", "np6", "--tcp=80:8080", fmt.Sprintf("--node-port=%d", taken))
	mustContain(t, errOut, "provided port is already allocated")
	if out := kubectl(t, c, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"); strings.TrimSpace(out) != web.Spec.ClusterIP {
		t.Fatalf("web's clusterIP changed: %s", out)
	}
}
