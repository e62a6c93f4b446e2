package policy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// benchInput builds nPolicies policies over nPods pods in 10 namespaces, 100 of them on this node. Each
// policy selects one app, allows ingress from one role (and from a labelled namespace) on a number and a
// named port, and egress to DNS, one app and an ipBlock. Addresses are in 198.18.0.0/15 (benchmarking
// range) so an applied table matches no real traffic.
func benchInput(nPolicies, nPods int) Input {
	in := Input{Namespaces: map[string]map[string]string{},
		DNS: &DNS{ServiceIP: netip.MustParseAddr("198.19.0.10"), Endpoint: netip.MustParseAddrPort("198.18.0.1:10053"), Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}}}
	for i := range 10 {
		in.Namespaces[fmt.Sprintf("ns%d", i)] = map[string]string{"team": fmt.Sprintf("t%d", i%3)}
	}
	base := netip.MustParseAddr("198.18.1.0")
	for i := range nPods {
		a := base.As4()
		a[2] += byte(i / 250)
		a[3] = byte(i%250 + 2)
		in.Pods = append(in.Pods, Pod{Namespace: fmt.Sprintf("ns%d", i%10), Name: fmt.Sprintf("p%d", i), IP: netip.AddrFrom4(a), Local: i < 100,
			Labels: map[string]string{"app": fmt.Sprintf("a%d", i%50), "role": fmt.Sprintf("r%d", i%7)},
			Ports:  []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8000 + i%3)}}})
	}
	for i := range nPolicies {
		p := np(fmt.Sprintf("pol%d", i), sel("app", fmt.Sprintf("a%d", i%50)), func(s *networkingv1.NetworkPolicySpec) {
			s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", fmt.Sprintf("r%d", i%7))}, {NamespaceSelector: sel("team", fmt.Sprintf("t%d", i%3)), PodSelector: sel("role", "r1")}},
				Ports: []networkingv1.NetworkPolicyPort{tcp(80), named("http")},
			}}
			s.Egress = []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel(), PodSelector: sel("k8s-app", "kube-dns")}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))}}},
				{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", fmt.Sprintf("a%d", (i+1)%50))}, {IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24", Except: []string{fmt.Sprintf("203.0.113.%d/32", i%256)}}}}},
			}
		})
		p.Namespace = fmt.Sprintf("ns%d", i%10)
		in.Policies = append(in.Policies, p)
	}
	return in
}

var benchSizes = []struct{ policies, pods int }{{10, 100}, {100, 1000}, {1000, 5000}}

// BenchmarkBuildRender is the pure part of a sync: objects to model to nft script.
func BenchmarkBuildRender(b *testing.B) {
	for _, sz := range benchSizes {
		in := benchInput(sz.policies, sz.pods)
		b.Run(fmt.Sprintf("policies=%d/pods=%d", sz.policies, sz.pods), func(b *testing.B) {
			var script string
			for b.Loop() {
				script = Render(Build(in))
			}
			b.ReportMetric(float64(len(script)), "script-bytes")
		})
	}
}

// BenchmarkApply applies the rendered script to the kernel with `nft -f -` (root only), in a table of its
// own that it removes afterwards.
func BenchmarkApply(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		b.Skip("no nft")
	}
	const table = "skiff-policy-bench"
	defer func() { _ = exec.Command("nft", "delete", "table", "inet", table).Run() }()
	for _, sz := range benchSizes {
		script := strings.ReplaceAll(Render(Build(benchInput(sz.policies, sz.pods))), "inet "+Table, "inet "+table)
		b.Run(fmt.Sprintf("policies=%d/pods=%d", sz.policies, sz.pods), func(b *testing.B) {
			for b.Loop() {
				if err := NFT(context.Background(), script); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
