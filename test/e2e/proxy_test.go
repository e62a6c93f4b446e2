package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff/test/e2e/framework"
)

// TestServiceProxy sends real traffic through the service proxy's nftables table: a ClusterIP Service in
// front of 3 test servers spreads a busybox pod's requests over all of them, a backend whose readiness
// fails stops getting traffic, the NodePort answers from the host on the node's IP, a pod reaches itself
// through its own Service (hairpin), a Service without endpoints refuses at once, and pods resolve names
// with the cluster DNS at the kube-dns Service IP.
func TestServiceProxy(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	// The cluster DNS on its own port (the default one may be another test server's), reached by pods at
	// the kube-dns Service IP through the proxy.
	dnsListen := "127.0.0.1:" + strconv.Itoa(framework.FreePort(t))
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{
		filepath.Join(imgDir, "busybox.tar"), filepath.Join(imgDir, "testserver.tar")},
		ExtraArgs: []string{"--dns-listen", dnsListen}}) // --cluster-dns defaults to 10.43.0.10
	ctx := context.Background()
	kubectlIn(t, c, webDeployment("", 3)+`---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: nobody
spec:
  selector: {app: nobody}
  ports:
  - {port: 80}
---
apiVersion: v1
kind: Pod
metadata:
  name: self
  labels: {app: self}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir /www && hostname > /www/hostname && httpd -p 8080 -h /www && exec sleep 3600"]
---
apiVersion: v1
kind: Service
metadata:
  name: self
spec:
  selector: {app: self}
  ports:
  - {port: 80, targetPort: 8080}
`, "apply", "-f", "-")

	web, err := c.Client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterIP, nodePort := web.Spec.ClusterIP, web.Spec.Ports[0].NodePort

	// ready returns the web pods' names and IPs that the EndpointSlice calls ready.
	ready := func() (map[string]string, error) {
		l, err := c.Client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, es := range l.Items {
			for _, ep := range es.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					out[ep.TargetRef.Name] = ep.Addresses[0]
				}
			}
		}
		return out, nil
	}
	var backends map[string]string
	eventually(t, 120*time.Second, func() (err error) {
		if backends, err = ready(); err == nil && len(backends) != 3 {
			err = fmt.Errorf("%d ready endpoints", len(backends))
		}
		return err
	})
	waitRunning := func(name string) {
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("%s is %s", name, p.Status.Phase)
			}
			return nil
		})
	}
	kubectl(t, c, "run", "client", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never", "--", "sleep", "3600")
	waitRunning("client")
	waitRunning("self")

	// hits asks n times from the client pod and counts the answers by backend name.
	hits := func(n int) map[string]int {
		t.Helper()
		script := fmt.Sprintf("for i in $(seq %d); do timeout 5 wget -qO- http://%s/hostname; echo; done", n, clusterIP)
		out := kubectl(t, c, "exec", "client", "--", "sh", "-c", script)
		got := map[string]int{}
		for _, l := range strings.Fields(out) {
			got[l]++
		}
		return got
	}

	t.Run("ClusterIPReachesAllReadyBackends", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			got := hits(60)
			for name := range backends {
				if got[name] == 0 {
					return fmt.Errorf("no answer from %s: %v", name, got)
				}
			}
			if len(got) != 3 {
				return fmt.Errorf("answers %v, want the 3 backends %v", got, backends)
			}
			return nil
		})
	})

	t.Run("NotReadyBackendLeavesRotation", func(t *testing.T) {
		var victim, victimIP string
		for victim, victimIP = range backends {
			break
		}
		post := func(path string) {
			t.Helper()
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+victimIP+":8080"+path, "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		// inRules says whether the proxy's table sends anything to the victim (its sep chain, its DNAT).
		inRules := func() bool {
			out, _ := exec.Command("nft", "list", "table", "ip", "skiff-proxy").CombinedOutput()
			return regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(victimIP+":8080")).Match(out)
		}
		// Readiness fails, then, in this order: the EndpointSlice calls the endpoint not ready, the proxy's
		// rules drop it, and from then on no request reaches it (asserted without retries). The times are
		// logged against the probe period (1 s, failureThreshold 1), not asserted: the machine is shared.
		failedAt := time.Now()
		post("/healthz/fail")
		eventually(t, 60*time.Second, func() error {
			r, err := ready()
			if err == nil && (len(r) != 2 || r[victim] != "") {
				err = fmt.Errorf("ready endpoints %v", r)
			}
			return err
		})
		notReadyAfter := time.Since(failedAt)
		eventually(t, 20*time.Second, func() error {
			if inRules() {
				return fmt.Errorf("%s still in table ip skiff-proxy", victimIP)
			}
			return nil
		})
		t.Logf("readiness failed: endpoint not ready after %s, out of the rules after %s (2 probe periods: 2s)",
			notReadyAfter.Round(time.Millisecond), time.Since(failedAt).Round(time.Millisecond))
		if got := hits(30); got[victim] != 0 || len(got) != 2 {
			t.Fatalf("answers %v after %s left the rules", got, victim)
		}
		recoveredAt := time.Now()
		post("/healthz/ok")
		eventually(t, 60*time.Second, func() error {
			r, err := ready()
			if err == nil && r[victim] == "" {
				err = fmt.Errorf("ready endpoints %v", r)
			}
			return err
		})
		eventually(t, 20*time.Second, func() error {
			if !inRules() {
				return fmt.Errorf("%s not back in table ip skiff-proxy", victimIP)
			}
			return nil
		})
		t.Logf("readiness recovered: back in the rules after %s", time.Since(recoveredAt).Round(time.Millisecond))
		// 60 requests over 3 backends all miss one with probability (2/3)^60, about 3e-11.
		if got := hits(60); len(got) != 3 || got[victim] == 0 {
			t.Fatalf("answers %v after %s recovered", got, victim)
		}
	})

	t.Run("NodePortFromHost", func(t *testing.T) {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, "skiff-e2e", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var nodeIP string
		for _, a := range node.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				nodeIP = a.Address
			}
		}
		// The e2e node says its IP is 127.0.0.1, and NodePorts do not answer on loopback (as upstream's
		// nftables mode): use another of the host's addresses, which the proxy treats alike.
		if ip := net.ParseIP(nodeIP); ip == nil || ip.IsLoopback() {
			nodeIP = hostIPv4(t)
		}
		url := "http://" + net.JoinHostPort(nodeIP, strconv.Itoa(int(nodePort))) + "/hostname"
		eventually(t, 20*time.Second, func() error {
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if _, ok := backends[string(body)]; !ok {
				return fmt.Errorf("%s answered %q", url, body)
			}
			return nil
		})
	})

	t.Run("ClusterIPFromHost", func(t *testing.T) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + clusterIP + "/hostname")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})

	t.Run("PodReachesItselfThroughItsService", func(t *testing.T) {
		self, err := c.Client.CoreV1().Services("default").Get(ctx, "self", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			out, stderr, err := c.Kubectl(ctx, "", "exec", "self", "--", "timeout", "5", "wget", "-qO-", "http://"+self.Spec.ClusterIP+"/hostname")
			if err != nil || strings.TrimSpace(out) != "self" {
				return fmt.Errorf("hairpin: %q %s %v", out, stderr, err)
			}
			return nil
		})
	})

	t.Run("NoEndpointsRejects", func(t *testing.T) {
		nobody, err := c.Client.CoreV1().Services("default").Get(ctx, "nobody", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, _, err := c.Kubectl(ctx, "", "exec", "client", "--", "sh", "-c", "timeout 5 wget -qO- http://"+nobody.Spec.ClusterIP+"/; echo rc=$?")
		if err != nil || !strings.Contains(out, "rc=1") || time.Since(start) > 4*time.Second {
			t.Fatalf("want a fast refusal, got %q after %s (%v)", out, time.Since(start), err)
		}
	})

	t.Run("ClusterDNSFromPods", func(t *testing.T) {
		dns, err := c.Client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
		if err != nil || dns.Spec.ClusterIP != "10.43.0.10" {
			t.Fatalf("kube-dns Service: %v %v", dns, err)
		}
		eventually(t, 30*time.Second, func() error {
			out, stderr, err := c.Kubectl(ctx, "", "exec", "client", "--", "nslookup", "web.default.svc.cluster.local")
			if err != nil || !strings.Contains(out, clusterIP) || !strings.Contains(out, "10.43.0.10") {
				return fmt.Errorf("nslookup: %q %s %v", out, stderr, err)
			}
			return nil
		})
	})

	t.Run("NodePortExternalTrafficPolicyLocal", func(t *testing.T) {
		kubectl(t, c, "patch", "service", "web", "-p", `{"spec":{"externalTrafficPolicy":"Local"}}`)
		url := "http://" + net.JoinHostPort(hostIPv4(t), strconv.Itoa(int(nodePort))) + "/hostname"
		// All backends run on this node: still answered, and the rule set now has the local-only path.
		eventually(t, 20*time.Second, func() error {
			out, _ := exec.Command("nft", "list", "table", "ip", "skiff-proxy").CombinedOutput()
			if !strings.Contains(string(out), "ip saddr 10.42.0.0/16 goto svc-") {
				return fmt.Errorf("no Local NodePort chain in\n%s", out)
			}
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if body, _ := io.ReadAll(resp.Body); backends[string(body)] == "" {
				return fmt.Errorf("%s answered %q", url, body)
			}
			return nil
		})
	})

	t.Run("InternalTrafficPolicyLocal", func(t *testing.T) {
		// A Service without a selector whose manual slice names a backend on another node: ClusterIP
		// traffic from this node must not go there (dropped), and once a backend on this node is added,
		// every answer comes from it.
		var names []string
		for name := range backends {
			names = append(names, name)
		}
		remote, local := names[0], names[1]
		kubectlIn(t, c, `apiVersion: v1
kind: Service
metadata:
  name: itp
spec:
  internalTrafficPolicy: Local
  ports:
  - {name: http, port: 80, targetPort: 8080}
`, "apply", "-f", "-")
		itp, err := c.Client.CoreV1().Services("default").Get(ctx, "itp", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		endpoint := func(ip, node string) discoveryv1.Endpoint {
			return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: &node, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}
		}
		es := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "itp-manual", Labels: map[string]string{discoveryv1.LabelServiceName: "itp"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
			Endpoints:   []discoveryv1.Endpoint{endpoint(backends[remote], "elsewhere")},
		}
		if es, err = c.Client.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		vip := itp.Spec.ClusterIP + " . tcp . 80 : drop"
		eventually(t, 20*time.Second, func() error {
			out, _ := exec.Command("nft", "list", "map", "ip", "skiff-proxy", "no-endpoint-services").CombinedOutput()
			if !strings.Contains(string(out), vip) {
				return fmt.Errorf("no %q in\n%s", vip, out)
			}
			return nil
		})
		for _, from := range []string{"pod", "host"} {
			var err error
			if from == "pod" {
				_, _, err = c.Kubectl(ctx, "", "exec", "client", "--", "timeout", "3", "wget", "-qO-", "http://"+itp.Spec.ClusterIP+"/hostname")
			} else {
				_, err = (&http.Client{Timeout: 3 * time.Second}).Get("http://" + itp.Spec.ClusterIP + "/hostname")
			}
			if err == nil {
				t.Fatalf("from the %s: the endpoint on another node answered", from)
			}
		}

		es.Endpoints = append(es.Endpoints, endpoint(backends[local], "skiff-e2e"))
		if _, err := c.Client.DiscoveryV1().EndpointSlices("default").Update(ctx, es, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, func() error {
			script := "for i in $(seq 20); do timeout 3 wget -qO- http://" + itp.Spec.ClusterIP + "/hostname; echo; done"
			out, _, _ := c.Kubectl(ctx, "", "exec", "client", "--", "sh", "-c", script)
			if got := strings.Fields(out); len(got) != 20 || strings.Count(out, local) != 20 {
				return fmt.Errorf("answers %q, want 20 from %s", got, local)
			}
			return nil
		})
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + itp.Spec.ClusterIP + "/hostname")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != local {
			t.Fatalf("from the host: %q, want %s", body, local)
		}
	})

	t.Run("UDPFlowFollowsEndpointChange", func(t *testing.T) {
		// A UDP client keeps one socket (one conntrack flow) while the Service's endpoint changes from
		// udp-a to udp-b. udp-a stays up, so without the proxy's conntrack flush the flow would keep
		// going to it for as long as the client keeps sending.
		kubectlIn(t, c, `apiVersion: v1
kind: Pod
metadata:
  name: udp-a
  labels: {udp: "yes"}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: skiff.local/testserver:1, imagePullPolicy: Never, args: ["--udp-port=8081"]}
---
apiVersion: v1
kind: Pod
metadata:
  name: udp-b
  labels: {udp: "later"}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: skiff.local/testserver:1, imagePullPolicy: Never, args: ["--udp-port=8081"]}
---
apiVersion: v1
kind: Service
metadata:
  name: udp
spec:
  selector: {udp: "yes"}
  ports:
  - {port: 5353, targetPort: 8081, protocol: UDP}
`, "apply", "-f", "-")
		waitRunning("udp-a")
		waitRunning("udp-b")
		udp, err := c.Client.CoreV1().Services("default").Get(ctx, "udp", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var clientIP string
		for _, ip := range backends {
			clientIP = ip
			break
		}
		// send asks a web pod's test server to send 3 datagrams from UDP port 40000 and returns the replies.
		send := func() (string, error) {
			url := "http://" + clientIP + ":8080/udp?to=" + udp.Spec.ClusterIP + ":5353&from=40000&n=3"
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			return strings.Join(strings.Fields(string(body)), " "), err
		}
		eventually(t, 30*time.Second, func() error {
			if got, err := send(); err != nil || got != "udp-a udp-a udp-a" {
				return fmt.Errorf("replies %q (%v), want udp-a", got, err)
			}
			return nil
		})
		kubectl(t, c, "label", "pod", "udp-a", "udp=no", "--overwrite")
		kubectl(t, c, "label", "pod", "udp-b", "udp=yes", "--overwrite")
		eventually(t, 30*time.Second, func() error {
			if got, err := send(); err != nil || got != "udp-b udp-b udp-b" {
				return fmt.Errorf("replies %q (%v), want udp-b", got, err)
			}
			return nil
		})
	})

	t.Run("LoadBalancer", func(t *testing.T) {
		// The built-in load balancer publishes the node's address; the e2e node's is 127.0.0.1, which the
		// proxy does not serve (as NodePorts), so the port is checked through the NodePort on another
		// host address, and the ingress-IP path through a Service of another loadBalancerClass whose
		// status the test writes itself with a routable host address.
		kubectlIn(t, c, `apiVersion: v1
kind: Service
metadata:
  name: lb
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 8081, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: lb-manual
spec:
  type: LoadBalancer
  loadBalancerClass: skiff.test/manual
  selector: {app: web}
  ports:
  - {name: http, port: 8082, targetPort: http}
`, "apply", "-f", "-")
		var lb *corev1.Service
		eventually(t, 20*time.Second, func() (err error) {
			if lb, err = c.Client.CoreV1().Services("default").Get(ctx, "lb", metav1.GetOptions{}); err != nil {
				return err
			}
			if ing := lb.Status.LoadBalancer.Ingress; len(ing) != 1 || ing[0].IP != "127.0.0.1" {
				return fmt.Errorf("ingress %+v, want the node's InternalIP 127.0.0.1", ing)
			}
			return nil
		})
		if out := kubectl(t, c, "get", "svc", "lb", "--no-headers"); !strings.Contains(out, "127.0.0.1") {
			t.Errorf("EXTERNAL-IP not shown: %q", out)
		}
		get := func(url string) error {
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if body, _ := io.ReadAll(resp.Body); backends[string(body)] == "" {
				return fmt.Errorf("%s answered %q", url, body)
			}
			return nil
		}
		hostIP := hostIPv4(t)
		eventually(t, 20*time.Second, func() error {
			return get("http://" + net.JoinHostPort(hostIP, strconv.Itoa(int(lb.Spec.Ports[0].NodePort))) + "/hostname")
		})

		manual, err := c.Client.CoreV1().Services("default").Get(ctx, "lb-manual", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(manual.Status.LoadBalancer.Ingress) != 0 {
			t.Fatalf("a Service of another loadBalancerClass got ingress %+v", manual.Status.LoadBalancer.Ingress)
		}
		manual.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: hostIP}}
		if _, err := c.Client.CoreV1().Services("default").UpdateStatus(ctx, manual, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, func() error { return get("http://" + net.JoinHostPort(hostIP, "8082") + "/hostname") })

		kubectl(t, c, "patch", "service", "lb", "-p", `{"spec":{"type":"ClusterIP"}}`)
		eventually(t, 20*time.Second, func() error {
			s, err := c.Client.CoreV1().Services("default").Get(ctx, "lb", metav1.GetOptions{})
			if err == nil && len(s.Status.LoadBalancer.Ingress) != 0 {
				err = fmt.Errorf("ingress %+v after the type change", s.Status.LoadBalancer.Ingress)
			}
			return err
		})
	})

	t.Run("EstablishedConnectionSurvivesRestart", func(t *testing.T) {
		// A keep-alive connection from the host to the ClusterIP, opened before skiff (and so the proxy)
		// restarts, still answers from the same backend after the proxy's first, full sync.
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(clusterIP, "80"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		ask := func() (string, error) {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, "GET /hostname HTTP/1.1\r\nHost: web\r\n\r\n"); err != nil {
				return "", err
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			return string(body), err
		}
		before, err := ask()
		if err != nil || backends[before] == "" {
			t.Fatalf("before the restart: %q %v", before, err)
		}
		c.Restart(t)
		// The first sync after the start is a full one; a Service created now shows it has happened.
		kubectlIn(t, c, "apiVersion: v1\nkind: Service\nmetadata:\n  name: after-restart\nspec:\n  selector: {app: web}\n  ports:\n  - {port: 80, targetPort: http}\n", "apply", "-f", "-")
		after, err := c.Client.CoreV1().Services("default").Get(ctx, "after-restart", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, func() error {
			out, _ := exec.Command("nft", "list", "map", "ip", "skiff-proxy", "service-ips").CombinedOutput()
			if !strings.Contains(string(out), after.Spec.ClusterIP+" . tcp . 80") {
				return fmt.Errorf("the proxy has not synced %s yet", after.Spec.ClusterIP)
			}
			return nil
		})
		for i := 0; i < 3; i++ {
			if got, err := ask(); err != nil || got != before {
				t.Fatalf("the connection after the restart: %q %v, want %q", got, err, before)
			}
		}
	})

	out, err := exec.Command("nft", "list", "table", "ip", "skiff-proxy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), clusterIP) {
		t.Fatalf("table ip skiff-proxy: %v\n%s", err, out)
	}
}

// hostIPv4 returns one of the host's non-loopback IPv4 addresses.
func hostIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}
