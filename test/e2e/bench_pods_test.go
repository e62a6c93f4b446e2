package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	remote "k8s.io/cri-client/pkg"

	"skiff/internal/kubelet"
	"skiff/test/e2e/framework"
)

// BenchmarkPodStartLatency creates 30 pods (pre-imported busybox) through the API on a server running its node
// agent and reports create-to-Running latency (p50, p99), next to the raw CRI floor (RunPodSandbox +
// CreateContainer + StartContainer) measured against the same containerd in the same run.
func BenchmarkPodStartLatency(b *testing.B) {
	framework.NeedRoot(b)
	imgDir := framework.TestImages(b)
	c := framework.Start(b, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "busybox.tar")}})
	ctx := context.Background()
	const pods = 30
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		created := map[string]time.Time{}
		for j := 0; j < pods; j++ {
			name := fmt.Sprintf("lat-%d-%d", i, j)
			created[name] = time.Now()
			if _, err := c.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "docker.io/library/busybox:1.36",
					ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"}}}}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		running := map[string]bool{}
		deadline := time.After(5 * time.Minute)
		for len(running) < pods {
			select {
			case ev := <-w.ResultChan():
				p, ok := ev.Object.(*corev1.Pod)
				if ok && ev.Type == watch.Modified && p.Status.Phase == corev1.PodRunning && !running[p.Name] {
					if t0, ok := created[p.Name]; ok {
						running[p.Name] = true
						lat = append(lat, time.Since(t0))
					}
				}
			case <-deadline:
				b.Fatalf("only %d of %d pods running", len(running), pods)
			}
		}
		w.Stop()
		zero := int64(0)
		_ = c.Client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")

	// The floor: the same three CRI calls, straight to the agent's containerd.
	rs, err := remote.NewRemoteRuntimeService(ctx, "unix://"+kubelet.ContainerdSocket(c.DataDir), 10*time.Second, nil, false)
	if err != nil {
		b.Fatal(err)
	}
	var floor []time.Duration
	var sandboxes []string
	for j := 0; j < 10; j++ {
		t0 := time.Now()
		sb, _, err := runPod(ctx, rs, fmt.Sprintf("floor-%d", j), b.TempDir(), []string{"sleep", "3600"})
		sandboxes = append(sandboxes, sb)
		if err != nil {
			b.Fatal(err)
		}
		floor = append(floor, time.Since(t0))
	}
	for _, sb := range sandboxes {
		removePod(ctx, rs, sb)
	}
	sort.Slice(floor, func(i, j int) bool { return floor[i] < floor[j] })
	b.ReportMetric(float64(floor[len(floor)/2].Milliseconds()), "cri-floor-p50-ms")
}
