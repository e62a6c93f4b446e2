package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/network/overlay"
	"skiff/test/e2e/framework"
)

// sh runs a command and fails the test with its output when it fails.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPodNetworkOverlay: pods reach another node's pod subnet over the VXLAN overlay. The other node is a
// network namespace of the test's: linked to the host by a veth pair (the "underlay", 192.168.251.0/30), with
// its own VXLAN device configured by hand as a second skiff node's would be, a pod address 10.50.99.5, and a
// Node object (podCIDR 10.50.99.0/24, InternalIP, VTEP MAC annotation). skiff's overlay must create
// skiff.vxlan, the neighbour, forwarding entry and route for it; a busybox pod then reaches 10.50.99.5 with its
// own address (no masquerade inside the cluster CIDR); deleting the Node removes the route.
func TestPodNetworkOverlay(t *testing.T) {
	framework.NeedRoot(t)
	const ns, hostIf, peerIf = "skiff-e2e-peer", "skv-host", "skv-peer"
	peerMAC := overlay.VtepMAC("skiff-e2e-peer").String()
	_ = exec.Command("ip", "netns", "del", ns).Run()
	_ = exec.Command("ip", "link", "del", hostIf).Run()
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		_ = exec.Command("ip", "link", "del", hostIf).Run()
	})
	in := func(args ...string) string {
		t.Helper()
		return sh(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
	}
	sh(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", peerIf)
	sh(t, "ip", "link", "set", peerIf, "netns", ns)
	sh(t, "ip", "addr", "add", "192.168.251.1/30", "dev", hostIf)
	sh(t, "ip", "link", "set", hostIf, "up")
	in("ip", "link", "set", "lo", "up")
	in("ip", "addr", "add", "192.168.251.2/30", "dev", peerIf)
	in("ip", "link", "set", peerIf, "up")
	in("ip", "link", "add", "vx0", "address", peerMAC, "type", "vxlan", "id", "1", "dstport", "8472", "local", "192.168.251.2", "dev", peerIf, "nolearning")
	in("ip", "addr", "add", "10.50.99.0/32", "dev", "vx0")
	in("ip", "addr", "add", "10.50.99.5/32", "dev", "lo")
	in("ip", "link", "set", "vx0", "up")

	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")},
		ExtraArgs: []string{"--node-ip", "192.168.251.1", "--cluster-cidr", "10.50.0.0/16"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The peer's Node, as its agent would register it (unschedulable: nothing runs there).
	peer, err := c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "skiff-e2e-peer",
		Annotations: map[string]string{overlay.AnnotationVtepMAC: peerMAC}},
		Spec: corev1.NodeSpec{PodCIDR: "10.50.99.0/24", Unschedulable: true}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error { // controllers may write the Node in between
		if peer, err = c.Client.CoreV1().Nodes().Get(ctx, peer.Name, metav1.GetOptions{}); err != nil {
			return err
		}
		peer.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.251.2"}}
		_, err = c.Client.CoreV1().Nodes().UpdateStatus(ctx, peer, metav1.UpdateOptions{})
		return err
	})

	// This node publishes its VTEP MAC; the peer learns it by hand.
	var selfMAC, selfCIDR string
	eventually(t, 30*time.Second, func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, "skiff-e2e", metav1.GetOptions{})
		if err != nil {
			return err
		}
		selfMAC, selfCIDR = n.Annotations[overlay.AnnotationVtepMAC], n.Spec.PodCIDR
		if selfMAC == "" || selfCIDR == "" {
			return fmt.Errorf("node skiff-e2e: vtep mac %q podCIDR %q", selfMAC, selfCIDR)
		}
		return nil
	})
	gw := strings.TrimSuffix(selfCIDR, "/24")
	in("ip", "neigh", "replace", gw, "lladdr", selfMAC, "dev", "vx0", "nud", "permanent")
	in("bridge", "fdb", "append", selfMAC, "dev", "vx0", "dst", "192.168.251.1", "self", "permanent")
	in("ip", "route", "replace", selfCIDR, "via", gw, "dev", "vx0", "onlink")

	t.Run("KernelState", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			out, _ := exec.Command("ip", "route", "show", "10.50.99.0/24").CombinedOutput()
			if !strings.Contains(string(out), "via 10.50.99.0 dev skiff.vxlan") {
				return fmt.Errorf("route: %q", out)
			}
			return nil
		})
		mustContain(t, sh(t, "ip", "-d", "link", "show", "skiff.vxlan"), "vxlan id 1", "dstport 8472", "local 192.168.251.1", selfMAC)
		mustContain(t, sh(t, "bridge", "fdb", "show", "dev", "skiff.vxlan"), peerMAC+" dst 192.168.251.2")
		mustContain(t, sh(t, "ip", "neigh", "show", "dev", "skiff.vxlan"), "10.50.99.0 lladdr "+peerMAC)
	})

	t.Run("PodReachesOtherNodesPodWithItsOwnAddress", func(t *testing.T) {
		kubectlIn(t, c, `apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`, "apply", "-f", "-")
		var podIP string
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "client", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("client is %s", p.Status.Phase)
			}
			podIP = p.Status.PodIP
			return nil
		})
		// The peer counts echo requests from the pod's own address (the namespace's table goes with it).
		in("nft", "add table ip seen; add set ip seen src { type ipv4_addr; flags dynamic; }; add chain ip seen in { type filter hook input priority 0; }; "+
			"add rule ip seen in ip saddr "+podIP+" icmp type echo-request counter; add rule ip seen in icmp type echo-request add @src { ip saddr }")
		eventually(t, 30*time.Second, func() error {
			got := kubectl(t, c, "exec", "client", "--", "sh", "-c", "ping -c 1 -W 2 10.50.99.5 >/dev/null && echo ok || echo fail")
			if !strings.Contains(got, "ok") {
				return fmt.Errorf("ping from the pod: %q", got)
			}
			return nil
		})
		if out := in("nft", "list", "table", "ip", "seen"); strings.Contains(out, "packets 0 ") {
			host, _ := exec.Command("sh", "-c", "nft list ruleset | grep -v 'jump CNI-' | grep -B3 -A3 -i 'masq\\|snat'").CombinedOutput()
			t.Fatalf("the peer saw no echo request from the pod's address %s (masqueraded?):\n%s\nhost:\n%s", podIP, out, host)
		}
	})

	// The node's cluster DNS endpoint (on its subnet's gateway) belongs to the Node, so it goes with it.
	t.Run("DNSEndpointOnTheNodeGateway", func(t *testing.T) {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, "skiff-e2e", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns-skiff-e2e", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Node" || s.OwnerReferences[0].UID != n.UID {
			t.Errorf("owners %+v, want the Node skiff-e2e", s.OwnerReferences)
		}
		if len(s.Endpoints) != 1 || len(s.Endpoints[0].Addresses) != 1 || s.Endpoints[0].Addresses[0] != "10.50.0.1" {
			t.Errorf("endpoints %+v, want the gateway 10.50.0.1 of --cluster-cidr 10.50.0.0/16's first subnet", s.Endpoints)
		}
	})

	t.Run("DeletedNodeLosesItsRoute", func(t *testing.T) {
		if err := c.Client.CoreV1().Nodes().Delete(ctx, "skiff-e2e-peer", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			out, _ := exec.Command("ip", "route", "show", "10.50.99.0/24").CombinedOutput()
			if strings.TrimSpace(string(out)) != "" {
				return fmt.Errorf("route still there: %q", out)
			}
			if exec.Command("ip", "link", "show", "skiff.vxlan").Run() == nil {
				return fmt.Errorf("skiff.vxlan still there with no other node")
			}
			return nil
		})
	})

	// A deleted Node comes back (its agent re-registers it) with the subnet its pods use, not a new one, and
	// with its cluster DNS endpoint.
	t.Run("DeletedNodeComesBackWithItsSubnet", func(t *testing.T) {
		if err := c.Client.CoreV1().Nodes().Delete(ctx, "skiff-e2e", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			n, err := c.Client.CoreV1().Nodes().Get(ctx, "skiff-e2e", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if n.Spec.PodCIDR != selfCIDR {
				return fmt.Errorf("re-registered with podCIDR %q, want %s", n.Spec.PodCIDR, selfCIDR)
			}
			return nil
		})
		eventually(t, 60*time.Second, func() error {
			_, err := c.Client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns-skiff-e2e", metav1.GetOptions{})
			return err
		})
	})
}
