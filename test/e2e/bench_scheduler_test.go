package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// BenchmarkScheduling measures scheduling throughput through the real API server: 5,000 nodes registered
// through the API (no kubelet), then 10,000 pods created by 16 clients; the clock runs from the first pod
// creation until every pod is bound. Variants add required pod anti-affinity and zone topology spread.
func BenchmarkScheduling(b *testing.B) {
	for _, variant := range []string{"plain", "anti-affinity", "topology-spread"} {
		b.Run(variant, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchScheduling(b, variant, 5000, 10000)
			}
		})
	}
}

func benchScheduling(b *testing.B, variant string, nodes, pods int) {
	b.StopTimer()
	// The nodes have no kubelet renewing their Leases: keep the node lifecycle controller from marking them
	// unreachable (and tainting them) when a run outlasts the grace period.
	c := framework.Start(b, framework.Options{ExtraArgs: []string{"--disable-controllers=nodelifecycle"}})
	cs := unlimited(c)
	ctx := context.Background()
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"), corev1.ResourcePods: resource.MustParse("110")}
	if err := parallel(nodes, func(i int) error {
		name := fmt.Sprintf("node-%05d", i)
		_, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name, corev1.LabelTopologyZone: fmt.Sprintf("zone-%02d", i%50)}},
			Status:     corev1.NodeStatus{Capacity: rl, Allocatable: rl, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
		}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(2 * time.Second) // let the scheduler's informer see every node
	pod := func(i int) *corev1.Pod {
		group := fmt.Sprintf("g%d", i%10)
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"group": group}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}}
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{"group": group}}
		switch variant {
		case "anti-affinity":
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
				{LabelSelector: sel, TopologyKey: corev1.LabelHostname}}}}
		case "topology-spread":
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: sel}}
		}
		return p
	}
	// SKIFF_BENCH_PPROF=FILE saves a 10 s CPU profile of the server taken while the pods are scheduled.
	profDone := make(chan struct{})
	if out := os.Getenv("SKIFF_BENCH_PPROF"); out != "" {
		go func() {
			defer close(profDone)
			data, err := c.Client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "10").DoRaw(ctx)
			if err == nil {
				err = os.WriteFile(out+"."+variant, data, 0o644)
			}
			if err != nil {
				b.Logf("profile: %v", err)
			}
		}()
	} else {
		close(profDone)
	}
	b.StartTimer()
	start := time.Now()
	if err := parallel(pods, func(i int) error {
		_, err := cs.CoreV1().Pods("default").Create(ctx, pod(i), metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=", ResourceVersion: "0"})
		if err != nil {
			b.Fatal(err)
		}
		if len(list.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d pods still pending", len(list.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(pods)/elapsed.Seconds(), "pods/s")
	<-profDone
	c.Stop()
}
