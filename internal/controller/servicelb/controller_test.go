package servicelb

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func node(name string, ready bool, addrs ...corev1.NodeAddress) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addrs,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
}

func internal(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
}
func external(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: ip}
}

func ips(in []corev1.LoadBalancerIngress) string {
	var out []string
	for _, i := range in {
		out = append(out, i.IP)
	}
	return fmt.Sprint(out)
}

func TestIngress(t *testing.T) {
	excluded := node("excluded", true, internal("192.0.2.9"))
	excluded.Labels = map[string]string{ExcludeLabel: ""}
	nodes := []*corev1.Node{
		node("b", true, internal("192.0.2.2"), external("203.0.113.2"), corev1.NodeAddress{Type: corev1.NodeHostName, Address: "b"}),
		node("a", true, internal("192.0.2.1"), internal("192.0.2.2")),
		node("down", false, internal("192.0.2.3")),
		excluded,
	}
	got := Ingress(nodes)
	if ips(got) != "[192.0.2.1 192.0.2.2 203.0.113.2]" || *got[0].IPMode != corev1.LoadBalancerIPModeVIP {
		t.Fatalf("ingress %s", ips(got))
	}
	if got := Ingress([]*corev1.Node{node("down", false, internal("192.0.2.3"))}); got != nil {
		t.Fatalf("no ready node: %v", got)
	}
}

func TestDesired(t *testing.T) {
	nodes := []*corev1.Node{node("a", true, internal("192.0.2.1"))}
	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	if got, ok := Desired(lb, nodes); !ok || ips(got) != "[192.0.2.1]" {
		t.Fatalf("LoadBalancer: %v %v", got, ok)
	}
	classed := lb.DeepCopy()
	classed.Spec.LoadBalancerClass = ptr.To("example.com/other")
	if _, ok := Desired(classed, nodes); ok {
		t.Fatal("a Service with a loadBalancerClass is managed")
	}
	clusterIP := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
	if got, ok := Desired(clusterIP, nodes); !ok || got != nil {
		t.Fatalf("ClusterIP: %v %v", got, ok)
	}
}

// TestController runs the controller on a fake clientset: a LoadBalancer Service gets the node's
// address, follows a node address change, and loses it when it becomes a ClusterIP Service.
func TestController(t *testing.T) {
	n := node("a", true, internal("192.0.2.1"))
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}}
	client := fake.NewClientset(n, svc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := informers.NewSharedInformerFactory(client, 0)
	if err := Start(ctx, client, f); err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	waitIngress := func(want string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			s, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got = ips(s.Status.LoadBalancer.Ingress); got == want {
				return
			}
		}
		t.Fatalf("ingress %s, want %s", got, want)
	}
	waitIngress("[192.0.2.1]")

	n.Status.Addresses = append(n.Status.Addresses, external("203.0.113.1"))
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress("[203.0.113.1]")

	s, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := client.CoreV1().Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress("[]")
}
