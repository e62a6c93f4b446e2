package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestClusterDNSFromPods is issue E's DNS acceptance from inside a pod: a busybox pod with dnsPolicy
// ClusterFirst asks the cluster DNS (10.43.0.10, the kube-dns Service, DNATed by the proxy to the DNS server
// on the pod gateway) with `nslookup` for a ClusterIP Service (full and short name), SRV of a named port, a
// headless Service (pod IPs, hostname.subdomain names, SRV per endpoint), PTR of a ClusterIP and of a
// headless endpoint, an ExternalName whose target only the test's upstream resolver knows, an upstream name
// and a missing Service; checks its resolv.conf; and fetches http://web.<ns>.svc.cluster.local.
func TestClusterDNSFromPods(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	resolv := startPodTestUpstream(t)
	dnsListen := "127.0.0.1:" + strconv.Itoa(framework.FreePort(t))
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{
		filepath.Join(imgDir, "busybox.tar"), filepath.Join(imgDir, "testserver.tar")},
		ExtraArgs: []string{"--dns-listen", dnsListen, "--dns-upstream-resolv-conf", resolv}})
	ctx := context.Background()
	const ns = "dns-e2e"
	kubectlIn(t, c, `apiVersion: v1
kind: Namespace
metadata:
  name: dns-e2e
---
`+webDeployment("dns-e2e", 1)+`---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: dns-e2e
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: db
  namespace: dns-e2e
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - {name: pg, port: 5432}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: dns-e2e
  labels: {app: db}
spec:
  hostname: db-0
  subdomain: db
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: docker.io/library/busybox:1.36, imagePullPolicy: Never, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-anon
  namespace: dns-e2e
  labels: {app: db}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: docker.io/library/busybox:1.36, imagePullPolicy: Never, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Service
metadata:
  name: ext
  namespace: dns-e2e
spec:
  type: ExternalName
  externalName: upstream.example
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: dns-e2e
spec:
  dnsPolicy: ClusterFirst
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: docker.io/library/busybox:1.36, imagePullPolicy: Never, command: [sleep, "3600"]}
`, "apply", "-f", "-")

	web, err := c.Client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterIP := web.Spec.ClusterIP
	// readyIPs maps the ready endpoints of a Service's slices: pod name -> IP.
	readyIPs := func(svc string) (map[string]string, error) {
		l, err := c.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, es := range l.Items {
			for _, ep := range es.Endpoints {
				if (ep.Conditions.Ready == nil || *ep.Conditions.Ready) && ep.TargetRef != nil {
					out[ep.TargetRef.Name] = ep.Addresses[0]
				}
			}
		}
		return out, nil
	}
	var webPods, dbPods map[string]string
	eventually(t, 120*time.Second, func() (err error) {
		if webPods, err = readyIPs("web"); err != nil || len(webPods) != 1 {
			return fmt.Errorf("web endpoints %v %v", webPods, err)
		}
		if dbPods, err = readyIPs("db"); err != nil || len(dbPods) != 2 {
			return fmt.Errorf("db endpoints %v %v", dbPods, err)
		}
		return nil
	})
	eventually(t, 60*time.Second, func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "client", metav1.GetOptions{})
		if err != nil || p.Status.Phase != "Running" {
			return fmt.Errorf("client pod: %v %v", p.Status.Phase, err)
		}
		return nil
	})

	// inPod runs a shell command in the client pod; the exit code is appended as "rc=N".
	inPod := func(script string) string {
		t.Helper()
		out, stderr, err := c.Kubectl(ctx, "", "exec", "-n", ns, "client", "--", "sh", "-c", script+"; echo rc=$?")
		if err != nil {
			return fmt.Sprintf("kubectl exec: %v %s", err, stderr)
		}
		return out
	}
	// lookup runs busybox nslookup (no server argument: it reads the pod's resolv.conf) until its output has
	// every wanted line fragment. The informers see new objects a moment after they are written.
	lookup := func(t *testing.T, args string, wants ...string) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			out := inPod("nslookup " + args)
			for _, w := range append(wants, "Server:\t\t10.43.0.10") {
				if !strings.Contains(out, w) {
					return fmt.Errorf("nslookup %s: no %q in\n%s", args, w, out)
				}
			}
			return nil
		})
	}
	svc := func(name string) string { return name + "." + ns + ".svc.cluster.local" }
	dashed := func(ip string) string { return strings.ReplaceAll(ip, ".", "-") }

	t.Run("ResolvConf", func(t *testing.T) {
		out := inPod("cat /etc/resolv.conf")
		for _, w := range []string{"nameserver 10.43.0.10\n", "search " + ns + ".svc.cluster.local svc.cluster.local cluster.local",
			"options ndots:5\n", "rc=0"} {
			if !strings.Contains(out, w) {
				t.Fatalf("resolv.conf has no %q:\n%s", w, out)
			}
		}
		if strings.Count(out, "nameserver") != 1 {
			t.Fatalf("want exactly the cluster DNS as nameserver:\n%s", out)
		}
	})
	t.Run("ClusterIPService", func(t *testing.T) {
		lookup(t, "-type=a "+svc("web"), "Name:\t"+svc("web")+"\nAddress: "+clusterIP+"\n", "rc=0")
	})
	t.Run("ShortNameThroughSearchPath", func(t *testing.T) {
		// busybox nslookup asks every search domain at once and prints (and exits 1 for) the NXDOMAIN of
		// web.svc.cluster.local and web.cluster.local besides the answer.
		lookup(t, "-type=a web", "Name:\t"+svc("web")+"\nAddress: "+clusterIP+"\n")
	})
	t.Run("SRVNamedPort", func(t *testing.T) {
		lookup(t, "-type=srv _http._tcp."+svc("web"), "_http._tcp."+svc("web")+"\tservice = 0 100 80 "+svc("web")+"\n", "rc=0")
	})
	t.Run("Headless", func(t *testing.T) {
		lookup(t, "-type=a "+svc("db"), "Address: "+dbPods["db-0"]+"\n", "Address: "+dbPods["db-anon"]+"\n", "rc=0")
		// The pod with hostname db-0 and subdomain db has its own name; the other is known by its dashed IP.
		lookup(t, "-type=a db-0."+svc("db"), "Name:\tdb-0."+svc("db")+"\nAddress: "+dbPods["db-0"]+"\n", "rc=0")
		lookup(t, "-type=srv _pg._tcp."+svc("db"), "service = 0 50 5432 db-0."+svc("db")+"\n",
			"service = 0 50 5432 "+dashed(dbPods["db-anon"])+"."+svc("db")+"\n", "rc=0")
	})
	t.Run("PTR", func(t *testing.T) {
		rev := func(ip string) string { r, _ := mdns.ReverseAddr(ip); return strings.TrimSuffix(r, ".") }
		lookup(t, clusterIP, rev(clusterIP)+"\tname = "+svc("web")+"\n", "rc=0")
		lookup(t, dbPods["db-0"], rev(dbPods["db-0"])+"\tname = db-0."+svc("db")+"\n", "rc=0")
		lookup(t, dbPods["db-anon"], rev(dbPods["db-anon"])+"\tname = "+dashed(dbPods["db-anon"])+"."+svc("db")+"\n", "rc=0")
	})
	t.Run("ExternalName", func(t *testing.T) {
		lookup(t, "-type=a "+svc("ext"), svc("ext")+"\tcanonical name = upstream.example\n", "Address: 192.0.2.7\n", "rc=0")
	})
	t.Run("UpstreamName", func(t *testing.T) {
		lookup(t, "-type=a upstream.example", "Name:\tupstream.example\nAddress: 192.0.2.7\n", "rc=0")
	})
	t.Run("MissingServiceNXDOMAIN", func(t *testing.T) {
		lookup(t, "-type=a "+svc("missing"), "** server can't find "+svc("missing")+": NXDOMAIN", "rc=1")
	})
	t.Run("NODATA", func(t *testing.T) {
		// The Service exists without IPv6: no answer, but not NXDOMAIN.
		eventually(t, 30*time.Second, func() error {
			out := inPod("nslookup -type=aaaa " + svc("web"))
			if strings.Contains(out, "NXDOMAIN") || strings.Contains(out, "Address: ") {
				return fmt.Errorf("want an empty answer:\n%s", out)
			}
			return nil
		})
	})
	t.Run("WgetByServiceName", func(t *testing.T) {
		// The libc resolver of busybox wget: full name, then the short name through the search path.
		for _, host := range []string{svc("web"), "web"} {
			eventually(t, 30*time.Second, func() error {
				out := inPod("timeout 5 wget -qO- http://" + host + "/hostname")
				body, ok := strings.CutSuffix(strings.TrimSpace(out), "rc=0")
				if _, isWeb := webPods[strings.TrimSpace(body)]; ok && isWeb {
					return nil
				}
				return fmt.Errorf("wget http://%s/hostname: %q, want one of %v", host, out, webPods)
			})
		}
	})
	t.Run("EndpointSliceRestored", func(t *testing.T) {
		// The node's kube-dns EndpointSlice, deleted by hand, is brought back (the server watches it).
		sel := "endpointslice.kubernetes.io/managed-by=skiff-server"
		name := kubectl(t, c, "get", "endpointslices", "-n", "kube-system", "-l", sel, "-o", "jsonpath={.items[0].metadata.name}")
		kubectl(t, c, "delete", "endpointslice", "-n", "kube-system", name)
		eventually(t, 30*time.Second, func() error {
			if _, err := c.Client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
			return nil
		})
	})
}

// startPodTestUpstream runs the upstream resolver the cluster DNS forwards to, on loopback: upstream.example
// has A 192.0.2.7 and no other records (NODATA with an SOA); every other name is NXDOMAIN. It returns a
// resolv.conf naming it.
func startPodTestUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	soa := &mdns.SOA{Hdr: mdns.RR_Header{Name: "example.", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: 30},
		Ns: "ns.example.", Mbox: "hostmaster.example.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 30}
	up := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg).SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		switch {
		case strings.EqualFold(q.Name, "upstream.example.") && q.Qtype == mdns.TypeA:
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30}, A: net.ParseIP("192.0.2.7")}}
		case strings.EqualFold(q.Name, "upstream.example."):
			m.Ns = []mdns.RR{soa}
		default:
			m.Rcode = mdns.RcodeNameError
			m.Ns = []mdns.RR{soa}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = up.ActivateAndServe() }()
	t.Cleanup(func() { _ = up.Shutdown() })
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+pc.LocalAddr().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return resolv
}
