package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"skiff/test/e2e/framework"
)

const benchWorkers = 16

// unlimited returns a client without client-go's client-side rate limit, so benchmarks measure the server.
func unlimited(c *framework.Cluster) kubernetes.Interface {
	cfg := *c.Config
	cfg.QPS, cfg.Burst = -1, 0
	return kubernetes.NewForConfigOrDie(&cfg)
}

// parallel runs n calls of f spread over benchWorkers goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < benchWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// BenchmarkCreateVsEtcdPut creates ConfigMaps through the API (16 concurrent clients) and, in the same run,
// puts values of the same size straight into the same etcd: it reports both rates and their ratio.
func BenchmarkCreateVsEtcdPut(b *testing.B) {
	c := framework.Start(b, framework.Options{})
	ctx := context.Background()
	cm := func(i int) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), Labels: map[string]string{"bench": "create"}},
			Data: map[string]string{"key": strings.Repeat("v", 100)}}
	}
	client := unlimited(c)
	b.ResetTimer()
	start := time.Now()
	if err := parallel(b.N, func(i int) error {
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm(i), metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	apiRate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()

	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{c.EtcdEndpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer etcd.Close()
	resp, err := etcd.Get(ctx, "/registry/configmaps/default/bench-0")
	if err != nil || len(resp.Kvs) == 0 {
		b.Fatalf("stored value: %v", err)
	}
	value := string(resp.Kvs[0].Value)
	start = time.Now()
	if err := parallel(b.N, func(i int) error {
		_, err := etcd.Put(ctx, "/bench-raw/"+strconv.Itoa(i), value)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	etcdRate := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(apiRate, "creates/s")
	b.ReportMetric(etcdRate, "etcd-puts/s")
	b.ReportMetric(apiRate/etcdRate, "create/put-ratio")
}

// BenchmarkList10kPodsFromCache lists 10,000 pods (served by the watch cache) per iteration.
func BenchmarkList10kPodsFromCache(b *testing.B) {
	c := framework.Start(b, framework.Options{})
	ctx := context.Background()
	const n = 10000
	client := unlimited(c)
	if err := parallel(n, func(i int) error {
		_, err := client.CoreV1().Pods("default").Create(ctx, testPod(fmt.Sprintf("pod-%05d", i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, contentType string }{{"protobuf", "application/vnd.kubernetes.protobuf"}, {"json", "application/json"}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := *c.Config
			cfg.QPS, cfg.Burst = -1, 0
			cfg.ContentType, cfg.AcceptContentTypes = tc.contentType, tc.contentType
			client := kubernetes.NewForConfigOrDie(&cfg)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if len(list.Items) != n {
					b.Fatalf("listed %d pods", len(list.Items))
				}
			}
		})
	}
}

// BenchmarkWatchFanout1000 keeps 1,000 watches open on one namespace; each iteration is one update and the
// time until all 1,000 watchers have received it.
func BenchmarkWatchFanout1000(b *testing.B) {
	c := framework.Start(b, framework.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const watchers = 1000
	cms := c.Client.CoreV1().ConfigMaps("default")
	obj, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fanout"}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var received atomic.Int64
	clients := make([]kubernetes.Interface, 4) // several connections, as many clients would have
	for i := range clients {
		clients[i] = unlimited(c)
	}
	var ws []watch.Interface
	for i := 0; i < watchers; i++ {
		w, err := clients[i%len(clients)].CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: obj.ResourceVersion})
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
		go func() {
			for range w.ResultChan() {
				received.Add(1)
			}
		}()
	}
	defer func() {
		for _, w := range ws {
			w.Stop()
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := received.Load() + watchers
		obj.Data["n"] = strconv.Itoa(i + 1)
		if obj, err = cms.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for received.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d watchers got update %d", received.Load()-want+watchers, watchers, i)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(b.N*watchers)/b.Elapsed().Seconds(), "events-delivered/s")
}

// BenchmarkIdleRSS reports the resident memory of a freshly started, idle `skiff server` (embedded etcd included).
func BenchmarkIdleRSS(b *testing.B) {
	c := framework.Start(b, framework.Options{})
	time.Sleep(10 * time.Second)
	for i := 0; i < b.N; i++ {
		// Nothing to repeat: the metric is a reading, not a rate.
	}
	b.ReportMetric(float64(rssKiB(b, c.PID()))/1024, "idle-RSS-MiB")
}

func rssKiB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
