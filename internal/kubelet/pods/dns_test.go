package pods

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodDNSConfig(t *testing.T) {
	host := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(host, []byte("nameserver 10.0.0.2\nsearch corp.example. .\noptions ndots:1 edns0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	one := "1"
	pod := func(policy corev1.DNSPolicy, hostNet bool, d *corev1.PodDNSConfig) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "team"},
			Spec: corev1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet, DNSConfig: d}}
	}
	cluster := []string{"10.43.0.10"}
	clusterSearch := []string{"team.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}
	for _, tc := range []struct {
		name                       string
		pod                        *corev1.Pod
		dns                        []string
		servers, searches, options []string
	}{
		{"ClusterFirst", pod(corev1.DNSClusterFirst, false, nil), cluster, cluster, clusterSearch, []string{"ndots:5"}},
		{"ClusterFirst on host network is Default", pod(corev1.DNSClusterFirst, true, nil), cluster, []string{"10.0.0.2"}, []string{"corp.example"}, []string{"ndots:1", "edns0"}},
		{"ClusterFirstWithHostNet", pod(corev1.DNSClusterFirstWithHostNet, true, nil), cluster, cluster, clusterSearch, []string{"ndots:5"}},
		{"ClusterFirst without cluster DNS", pod(corev1.DNSClusterFirst, false, nil), nil, []string{"10.0.0.2"}, []string{"corp.example"}, []string{"ndots:1", "edns0"}},
		{"Default", pod(corev1.DNSDefault, false, nil), cluster, []string{"10.0.0.2"}, []string{"corp.example"}, []string{"ndots:1", "edns0"}},
		{"None", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &one}}}), cluster, []string{"1.1.1.1"}, []string{"a.example"}, []string{"ndots:1"}},
		{"ClusterFirst merged with dnsConfig", pod(corev1.DNSClusterFirst, false, &corev1.PodDNSConfig{Nameservers: []string{"10.43.0.10", "1.1.1.1"},
			Searches: []string{"b.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &one}, {Name: "single-request"}}}),
			cluster, []string{"10.43.0.10", "1.1.1.1"}, append(slices.Clone(clusterSearch), "b.example"), []string{"ndots:1", "single-request"}},
	} {
		got := podDNSConfig(tc.pod, tc.dns, "cluster.local", host)
		if !slices.Equal(got.Servers, tc.servers) || !slices.Equal(got.Searches, tc.searches) || !slices.Equal(got.Options, tc.options) {
			t.Errorf("%s: got servers %v searches %v options %v; want %v %v %v", tc.name, got.Servers, got.Searches, got.Options, tc.servers, tc.searches, tc.options)
		}
	}
}
