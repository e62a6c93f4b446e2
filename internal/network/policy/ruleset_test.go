package policy

import (
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// testModel isolates web and web2 for ingress (same policies: one shared chain) and client for egress.
func testModel() Model {
	return Build(Input{Pods: allPods, Namespaces: nsLabels, DNS: dns, Policies: []*networkingv1.NetworkPolicy{
		np("web", sel("app", "web"), func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "client")}, {IPBlock: &networkingv1.IPBlock{CIDR: "192.168.0.0/16", Except: []string{"192.168.1.0/24"}}}},
					Ports: []networkingv1.NetworkPolicyPort{tcp(80), {Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(5000)), EndPort: ptr.To(int32(5010))}, {Protocol: ptr.To(corev1.ProtocolSCTP)}}},
				{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "other")}}},
			}
		}),
		np("client", sel("role", "client"), func(s *networkingv1.NetworkPolicySpec) {
			s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			s.Egress = []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel(corev1.LabelMetadataName, "kube-system"), PodSelector: sel("k8s-app", "kube-dns")}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))}}},
				{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.42.0.0/16"}}}}},
			}
		}),
	}})
}

func TestRender(t *testing.T) {
	s := Render(testModel())
	for _, want := range []string{
		"table inet skiff-policy {",
		"10.42.0.2 : goto ingress-",
		"10.42.0.4 : jump egress-",
		"10.42.0.2 . 10.42.0.2",
		"ip saddr @peers-",
		"elements = { 10.42.0.4, 10.42.1.2, 192.168.0.0-192.168.0.255, 192.168.2.0-192.168.255.255 }",
		"meta l4proto tcp th dport 80 accept",
		"meta l4proto udp th dport 5000-5010 accept",
		"meta l4proto sctp accept",
		"ip daddr 10.42.0.1 meta l4proto udp th dport 10053 return",
		"ip daddr 10.42.0.1 meta l4proto { tcp, udp } th dport 10053 ip saddr vmap @egress-pods",
		"ct state established,related accept",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	// web and web2 are under the same policies: one chain, named in one comment.
	if n := strings.Count(s, "chain ingress-"); n != 1 || !strings.Contains(s, `comment "default/web and 1 more"`) {
		t.Errorf("%d ingress chains in\n%s", n, s)
	}
	if Render(testModel()) != s {
		t.Error("render is not deterministic")
	}
	empty := Render(Model{})
	if !strings.Contains(empty, "chain forward") || strings.Contains(empty, "drop") {
		t.Errorf("empty model:\n%s", empty)
	}
}

func TestRenderParses(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft")
	}
	for name, m := range map[string]Model{"empty": {}, "policies": testModel()} {
		t.Run(name, func(t *testing.T) {
			script := Render(m)
			cmd := exec.Command("nft", "-c", "-f", "-")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				if strings.Contains(string(out), "Operation not permitted") {
					t.Skip("nft -c needs CAP_NET_ADMIN")
				}
				t.Fatalf("nft -c: %v\n%s\nscript:\n%s", err, out, script)
			}
		})
	}
}
