package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// BenchmarkDNSFromPod measures the cluster DNS as pods use it: a `skiff server` with its node agent holds
// 1,000 ClusterIP Services, and UDP sockets opened inside a busybox pod's network namespace ask
// 10.43.0.10:53 (the kube-dns Service, DNATed by the proxy to the DNS server's pod-facing listener on the
// pod gateway) for A records of random Services, from 4 x GOMAXPROCS parallel clients. The same queries to
// the server's host listener (--dns-listen on loopback, no DNAT, no veth) run as a second sub-benchmark.
// Client, server, etcd and containerd share the machine's cores. Reports queries/s and the server's RSS.
func BenchmarkDNSFromPod(b *testing.B) {
	framework.NeedRoot(b)
	imgDir := framework.TestImages(b)
	dnsListen := "127.0.0.1:" + strconv.Itoa(framework.FreePort(b))
	c := framework.Start(b, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")},
		ExtraArgs: []string{"--dns-listen", dnsListen}})
	ctx := context.Background()
	const ns, services = "dnsbench", 1000
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, services)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < services; i += 16 {
				svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i)}, Spec: corev1.ServiceSpec{
					Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}
				if _, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if out, stderr, err := c.Kubectl(ctx, "", "run", "-n", ns, "client", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never", "--", "sleep", "3600"); err != nil {
		b.Fatalf("kubectl run: %v %s %s", err, out, stderr)
	}
	var netns string
	retry(b, 120*time.Second, func() error {
		out, stderr, err := c.Kubectl(ctx, "", "exec", "-n", ns, "client", "--", "readlink", "/proc/self/ns/net")
		netns = strings.TrimSpace(out)
		if err != nil || !strings.HasPrefix(netns, "net:[") {
			return fmt.Errorf("pod network namespace: %q %s %v", out, stderr, err)
		}
		return nil
	})
	podNetns := netnsPath(b, netns)
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, "client", metav1.GetOptions{})
	if err != nil || pod.Status.PodIP == "" {
		b.Fatalf("client pod IP: %v", err)
	}
	clients := 4 * runtime.GOMAXPROCS(0)
	name := func(r *rand.Rand) string { return fmt.Sprintf("svc-%d.%s.svc.cluster.local.", r.IntN(services), ns) }

	for _, bc := range []struct{ name, addr, netns string }{
		{"PodToServiceIP", "10.43.0.10:53", podNetns},
		{"HostLoopback", dnsListen, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conns := make(chan *mdns.Conn, clients)
			for range clients {
				conn, err := dialIn(bc.netns, bc.addr)
				if err != nil {
					b.Fatal(err)
				}
				if local := conn.LocalAddr().(*net.UDPAddr).IP.String(); bc.netns != "" && local != pod.Status.PodIP {
					b.Fatalf("socket from %s, not from the pod (%s)", local, pod.Status.PodIP)
				}
				conns <- &mdns.Conn{Conn: conn}
			}
			defer func() {
				for range clients {
					(<-conns).Close()
				}
			}()
			// Every Service answers before the clock starts (the informers have seen them all).
			retry(b, 60*time.Second, func() error {
				conn := <-conns
				defer func() { conns <- conn }()
				return askA(conn, fmt.Sprintf("svc-%d.%s.svc.cluster.local.", services-1, ns))
			})
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				conn := <-conns
				defer func() { conns <- conn }()
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					if err := askA(conn, name(r)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
			b.ReportMetric(float64(rssKiB(b, c.PID()))/1024, "server-RSS-MiB")
		})
	}
}

// askA asks one A question over conn and wants one answer.
func askA(conn *mdns.Conn, name string) error {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMsg(new(mdns.Msg).SetQuestion(name, mdns.TypeA)); err != nil {
		return err
	}
	r, err := conn.ReadMsg()
	if err != nil {
		return err
	}
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		return fmt.Errorf("%s: %s with %d answers", name, mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return nil
}

// netnsPath finds a process whose network namespace is id ("net:[inode]", as readlink shows it) and returns
// the path of that namespace.
func netnsPath(b *testing.B, id string) string {
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		if l, err := os.Readlink(p); err == nil && l == id {
			return p
		}
	}
	b.Fatalf("no process in network namespace %s", id)
	return ""
}

// dialIn opens a UDP socket to addr inside the network namespace at path ("" for this one). The socket stays in
// that namespace after the thread returns to its own.
func dialIn(path, addr string) (net.Conn, error) {
	if path == "" {
		return net.Dial("udp", addr)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("setns %s: %w", path, err)
	}
	conn, dialErr := net.Dial("udp", addr)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in the pod's namespace: keep it locked so that it dies with this goroutine.
		runtime.LockOSThread()
		return nil, fmt.Errorf("setns back: %w", err)
	}
	return conn, dialErr
}

// retry calls f until it returns nil, failing the benchmark after timeout.
func retry(b *testing.B, timeout time.Duration, f func() error) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
