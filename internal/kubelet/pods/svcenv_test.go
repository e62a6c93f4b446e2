package pods

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

func TestServiceEnv(t *testing.T) {
	services := []*corev1.Service{
		svc("default", "kubernetes", "10.43.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}),
		svc("app", "my-db", "10.43.0.20", corev1.ServicePort{Name: "sql", Port: 5432, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP}),
		svc("app", "headless", corev1.ClusterIPNone, corev1.ServicePort{Port: 80}),
		svc("app", "v6", "fd00::10", corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}),
		svc("other", "elsewhere", "10.43.0.30", corev1.ServicePort{Port: 80}),
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app"}}
	got := serviceEnv(pod, services)
	want := map[string]string{
		"KUBERNETES_SERVICE_HOST":       "10.43.0.1",
		"KUBERNETES_SERVICE_PORT":       "443",
		"KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT":               "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP":       "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_443_TCP_PORT":  "443",
		"KUBERNETES_PORT_443_TCP_ADDR":  "10.43.0.1",
		"MY_DB_SERVICE_HOST":            "10.43.0.20",
		"MY_DB_SERVICE_PORT":            "5432",
		"MY_DB_SERVICE_PORT_SQL":        "5432",
		"MY_DB_PORT":                    "tcp://10.43.0.20:5432",
		"MY_DB_PORT_5432_TCP":           "tcp://10.43.0.20:5432",
		"MY_DB_PORT_5432_TCP_PROTO":     "tcp",
		"MY_DB_PORT_5432_TCP_PORT":      "5432",
		"MY_DB_PORT_5432_TCP_ADDR":      "10.43.0.20",
		"MY_DB_PORT_53_UDP":             "udp://10.43.0.20:53",
		"MY_DB_PORT_53_UDP_PROTO":       "udp",
		"MY_DB_PORT_53_UDP_PORT":        "53",
		"MY_DB_PORT_53_UDP_ADDR":        "10.43.0.20",
		"V6_SERVICE_HOST":               "fd00::10",
		"V6_SERVICE_PORT":               "80",
		"V6_PORT":                       "tcp://[fd00::10]:80",
		"V6_PORT_80_TCP":                "tcp://[fd00::10]:80",
		"V6_PORT_80_TCP_PROTO":          "tcp",
		"V6_PORT_80_TCP_PORT":           "80",
		"V6_PORT_80_TCP_ADDR":           "fd00::10",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("service env (-want +got):\n%s", d)
	}
	// enableServiceLinks: false keeps only the kubernetes Service.
	off := false
	pod.Spec.EnableServiceLinks = &off
	got = serviceEnv(pod, services)
	if len(got) != 8 || got["KUBERNETES_SERVICE_HOST"] != "10.43.0.1" {
		t.Fatalf("with service links off: %v", got)
	}
}
