package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestNetworkPolicy sends real traffic between pods on the node while NetworkPolicies come and go: a
// default-deny ingress blocks every client (but not the host, so the readiness probe keeps passing, nor a
// pod reaching itself through its Service), an
// allow rule by label opens exactly that client's path, a namespaceSelector opens another namespace, an
// ipBlock with except opens the pod network but one client, an egress deny blocks a client's traffic and
// its DNS until a policy allows the kube-dns pods, and deleting the policies restores everything.
func TestNetworkPolicy(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	dnsListen := "127.0.0.1:" + strconv.Itoa(framework.FreePort(t))
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{
		filepath.Join(imgDir, "busybox.tar"), filepath.Join(imgDir, "testserver.tar")},
		ExtraArgs: []string{"--dns-listen", dnsListen}})
	ctx := context.Background()
	client := func(ns, name, role string) string {
		return fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels: {role: %s}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir /www && hostname > /www/hostname && httpd -p 8080 -h /www && exec sleep 3600"]
`, name, ns, role)
	}
	kubectlIn(t, c, `apiVersion: v1
kind: Namespace
metadata:
  name: other
  labels: {team: other}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
`+webPodSpec("  ")+`---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: allowed
spec:
  selector: {role: allowed}
  ports:
  - {port: 80, targetPort: 8080}
`+client("default", "allowed", "allowed")+client("default", "denied", "denied")+client("other", "outsider", "outsider"), "apply", "-f", "-")

	podIP := func(ns, name string) string {
		var ip string
		eventually(t, 120*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
				return fmt.Errorf("%s/%s is %s", ns, name, p.Status.Phase)
			}
			ip = p.Status.PodIP
			return nil
		})
		return ip
	}
	webIP := podIP("default", "web")
	deniedIP := podIP("default", "denied")
	podIP("default", "allowed")
	podIP("other", "outsider")
	webURL := "http://" + webIP + ":8080/hostname"

	// run runs a shell command in a client pod and says whether it succeeded. Blocked traffic is dropped,
	// so every attempt is bounded by `timeout`.
	run := func(ns, pod, cmd string) bool {
		out, _, _ := c.Kubectl(ctx, "", "exec", "-n", ns, pod, "--", "sh", "-c", cmd+" >/dev/null 2>&1 && echo PASS || echo FAIL")
		return strings.TrimSpace(out) == "PASS"
	}
	reach := func(ns, pod, url string) bool { return run(ns, pod, "timeout 3 wget -qO- "+url) }
	// expect waits until each client (namespace/name) reaches url or not, as given, all at once.
	expect := func(t *testing.T, url string, want map[string]bool) {
		t.Helper()
		eventually(t, 45*time.Second, func() error {
			var mu sync.Mutex
			var wg sync.WaitGroup
			var wrong []string
			for who, ok := range want {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ns, pod, _ := strings.Cut(who, "/")
					if got := reach(ns, pod, url); got != ok {
						mu.Lock()
						wrong = append(wrong, fmt.Sprintf("%s reached=%v", who, got))
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(wrong) > 0 {
				return fmt.Errorf("%s: %v", url, wrong)
			}
			return nil
		})
	}
	apply := func(t *testing.T, yaml string) { t.Helper(); kubectlIn(t, c, yaml, "apply", "-f", "-") }
	del := func(t *testing.T, names ...string) {
		t.Helper()
		kubectl(t, c, append([]string{"delete", "networkpolicy", "--wait=false"}, names...)...)
	}
	all := func(ok bool) map[string]bool {
		return map[string]bool{"default/allowed": ok, "default/denied": ok, "other/outsider": ok}
	}

	t.Run("NoPolicyAllOpen", func(t *testing.T) { expect(t, webURL, all(true)) })

	t.Run("DefaultDenyIngress", func(t *testing.T) {
		apply(t, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`)
		expect(t, webURL, all(false))
		// The host still reaches the pod: the kubelet's readiness probe keeps passing.
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(webURL)
		if err != nil {
			t.Fatalf("host to pod under default deny: %v", err)
		}
		resp.Body.Close()
		// A pod always reaches itself, here through its own Service (hairpin).
		svc, err := c.Client.CoreV1().Services("default").Get(ctx, "allowed", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !reach("default", "allowed", "http://"+svc.Spec.ClusterIP+"/hostname") {
			t.Fatal("a pod could not reach itself through its Service under default deny")
		}
		// expect took several probe periods (1 s) under the policy.
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionTrue {
				t.Fatalf("web not ready under default deny: %+v", cond)
			}
		}
	})

	t.Run("AllowByLabel", func(t *testing.T) {
		apply(t, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-allowed}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: allowed}}}]
    ports: [{port: http}]
`)
		expect(t, webURL, map[string]bool{"default/allowed": true, "default/denied": false, "other/outsider": false})
	})

	t.Run("NamespaceSelector", func(t *testing.T) {
		apply(t, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-other-ns}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: other}}}]
`)
		expect(t, webURL, map[string]bool{"default/allowed": true, "default/denied": false, "other/outsider": true})
	})

	t.Run("IPBlockWithExcept", func(t *testing.T) {
		del(t, "allow-allowed", "allow-other-ns")
		expect(t, webURL, all(false))
		apply(t, fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-block}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 10.42.0.0/16, except: [%s/32]}}]
    ports: [{protocol: TCP, port: 8000, endPort: 8100}]
`, deniedIP))
		expect(t, webURL, map[string]bool{"default/allowed": true, "default/denied": false, "other/outsider": true})
	})

	t.Run("DeletingPoliciesRestoresTraffic", func(t *testing.T) {
		del(t, "default-deny", "allow-block")
		expect(t, webURL, all(true))
	})

	lookup := "timeout 5 nslookup web.default.svc.cluster.local"
	t.Run("EgressDenyBlocksTrafficAndDNS", func(t *testing.T) {
		apply(t, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allowed-egress}
spec:
  podSelector: {matchLabels: {role: allowed}}
  policyTypes: [Egress]
`)
		expect(t, webURL, map[string]bool{"default/allowed": false, "default/denied": true})
		if run("default", "allowed", lookup) {
			t.Fatal("DNS answered under an egress deny")
		}
		if !run("default", "denied", lookup) {
			t.Fatal("DNS failed for a pod no policy selects")
		}
	})

	t.Run("EgressAllowDNSAndService", func(t *testing.T) {
		apply(t, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allowed-dns}
spec:
  podSelector: {matchLabels: {role: allowed}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
`)
		eventually(t, 30*time.Second, func() error {
			if !run("default", "allowed", lookup) {
				return fmt.Errorf("no DNS answer with an egress rule to kube-dns")
			}
			return nil
		})
		// DNS works, the web pod is still out of bounds, by name or by address.
		expect(t, "http://web.default.svc.cluster.local/hostname", map[string]bool{"default/allowed": false, "default/denied": true})
		apply(t, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allowed-web}
spec:
  podSelector: {matchLabels: {role: allowed}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: http}]
`)
		// Through the Service: the rules see the pod the proxy picked.
		expect(t, "http://web.default.svc.cluster.local/hostname", map[string]bool{"default/allowed": true, "default/denied": true})
	})

	t.Run("TableInPlaceThenEmptied", func(t *testing.T) {
		out, err := exec.Command("nft", "list", "table", "inet", "skiff-policy").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "egress-pods") || !strings.Contains(string(out), "drop") {
			t.Fatalf("table inet skiff-policy: %v\n%s", err, out)
		}
		del(t, "allowed-egress", "allowed-dns", "allowed-web")
		eventually(t, 30*time.Second, func() error {
			out, err := exec.Command("nft", "list", "table", "inet", "skiff-policy").CombinedOutput()
			if err != nil || strings.Contains(string(out), "drop") {
				return fmt.Errorf("isolation left after all policies are gone: %v\n%s", err, out)
			}
			return nil
		})
		expect(t, webURL, map[string]bool{"default/allowed": true})
	})
}
