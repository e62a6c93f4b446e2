package dns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	goruntime "runtime"
	"testing"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

const (
	benchServices   = 1000 // in 10 namespaces; every 10th is headless
	benchEndpoints  = 3    // per Service, in one EndpointSlice
	benchNamespaces = 10
)

// benchObjects are benchServices Services with an EndpointSlice each.
func benchObjects() []runtime.Object {
	tcp := corev1.ProtocolTCP
	var objs []runtime.Object
	for i := range benchServices {
		ns, name := fmt.Sprintf("ns-%d", i%benchNamespaces), fmt.Sprintf("svc-%d", i)
		spec := corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.43.%d.%d", i/250, 1+i%250),
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: tcp}}}
		if i%10 == 0 {
			spec.ClusterIP = corev1.ClusterIPNone
		}
		spec.ClusterIPs = []string{spec.ClusterIP}
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec})
		es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-x", Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: name}}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: &tcp}}}
		for j := range benchEndpoints {
			n := i*benchEndpoints + j
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.42.%d.%d", n/250, 1+n%250)},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
		}
		objs = append(objs, es)
	}
	return objs
}

func heapInUse() uint64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkPodFacingQueries is the cluster DNS as pods reach it: the server holds 1,000 Services with 3
// endpoints each (fake clientset, real informers) and answers on its pod-facing listener (ListenPods: UDP,
// IP_FREEBIND, here on a loopback address instead of the pod gateway), asked by 4 x GOMAXPROCS parallel UDP
// clients, each with its own socket, for names spread over all the Services. Client and server share the
// CPUs. Reports queries/s and the heap the informer caches and indexes take (heap-MiB, measured once).
func BenchmarkPodFacingQueries(b *testing.B) {
	objs := benchObjects()
	client := fake.NewClientset(objs...)
	before := heapInUse()
	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := New(factory, Config{Upstreams: []string{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.hasSynced...) {
		b.Fatal("no sync")
	}
	heapMiB := float64(heapInUse()-before) / (1 << 20)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	// The pod-facing listener on another loopback address (the whole 127/8 is local), any free port.
	pl, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		b.Fatal(err)
	}
	podAddr := pl.LocalAddr().String()
	pl.Close()
	if err := s.ListenPods(podAddr); err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(ctx) }()
	ts := &testServer{s: s, addr: podAddr}
	ts.query(b, "svc-1.ns-1.svc.cluster.local.", mdns.TypeA) // waits for the listener

	for _, bc := range []struct {
		name  string
		qname func(i int) string
		want  int // answer records
		rcode int
	}{
		{"ClusterIP-A", func(i int) string {
			i = i/10*10 + 1 + i%9
			return fmt.Sprintf("svc-%d.ns-%d.svc.cluster.local.", i, i%benchNamespaces)
		}, 1, mdns.RcodeSuccess},
		{"Headless-A", func(i int) string {
			i = i / 10 * 10
			return fmt.Sprintf("svc-%d.ns-%d.svc.cluster.local.", i, i%benchNamespaces)
		}, benchEndpoints, mdns.RcodeSuccess},
		// What ndots:5 makes of a full service name first: <name>.<ns>.svc.cluster.local.<ns>.svc.cluster.local.
		{"SearchMiss-NXDOMAIN", func(i int) string {
			return fmt.Sprintf("svc-%d.ns-%d.svc.cluster.local.ns-%d.svc.cluster.local.", i, i%benchNamespaces, i%benchNamespaces)
		}, 0, mdns.RcodeNameError},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(4) // 4 x GOMAXPROCS clients
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				conn, err := mdns.Dial("udp", podAddr)
				if err != nil {
					b.Error(err)
					return
				}
				defer conn.Close()
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				m := new(mdns.Msg)
				for pb.Next() {
					m.SetQuestion(bc.qname(r.IntN(benchServices)), mdns.TypeA)
					if err := conn.WriteMsg(m); err != nil {
						b.Error(err)
						return
					}
					resp, err := conn.ReadMsg()
					if err != nil || resp.Rcode != bc.rcode || len(resp.Answer) != bc.want {
						b.Errorf("%s: %v %v", m.Question[0].Name, resp, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
			b.ReportMetric(heapMiB, "heap-MiB")
		})
	}
}
