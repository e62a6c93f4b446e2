package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff/test/e2e/framework"
)

// simulatedNodes registers n Ready nodes through the API and runs a stand-in kubelet for them until ctx ends:
// every pod bound to one of them is reported Running and Ready at once (status written through the API), and
// pods marked for deletion are removed. Nothing runs; this measures the control plane.
func simulatedNodes(ctx context.Context, tb testing.TB, cs kubernetes.Interface, n int) {
	tb.Helper()
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"), corev1.ResourcePods: resource.MustParse("110")}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("sim-%03d", i)
		if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
			Status: corev1.NodeStatus{Capacity: rl, Allocatable: rl, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
			metav1.CreateOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
	}))
	queue := workqueue.NewTyped[string]()
	inf := factory.Core().V1().Pods().Informer()
	lister := factory.Core().V1().Pods().Lister()
	add := func(o any) {
		if p, ok := o.(*corev1.Pod); ok {
			queue.Add(p.Namespace + "/" + p.Name)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, o any) { add(o) }})
	factory.Start(ctx.Done())
	go func() { <-ctx.Done(); queue.ShutDown() }()
	zero := int64(0)
	for w := 0; w < 8; w++ {
		go func() {
			for {
				key, quit := queue.Get()
				if quit {
					return
				}
				ns, name, _ := cache.SplitMetaNamespaceKey(key)
				p, err := lister.Pods(ns).Get(name)
				switch {
				case err != nil:
				case p.DeletionTimestamp != nil:
					_ = cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				case p.Status.Phase != corev1.PodRunning:
					now := metav1.Now()
					p = p.DeepCopy()
					p.Status.Phase = corev1.PodRunning
					p.Status.StartTime = &now
					p.Status.PodIP = "10.99.0.1"
					for _, t := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
						p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
					}
					_, _ = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
				}
				queue.Done(key)
			}
		}()
	}
}

func deploymentOf(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox:1.36", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}}}}}}}
}

func waitAvailable(ctx context.Context, tb testing.TB, cs kubernetes.Interface, name string, want int32) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas == want && d.Status.UpdatedReplicas == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("deployment %s not available in time", name)
}

// BenchmarkDeployment100Available measures the time from creating a 100-replica Deployment until all 100
// replicas are available, on 10 simulated nodes (the scheduler, the Deployment and ReplicaSet controllers
// and the API server are real; a stand-in kubelet reports pods Running at once).
func BenchmarkDeployment100Available(b *testing.B) {
	c := framework.Start(b, framework.Options{ExtraArgs: []string{"--disable-controllers=nodelifecycle"}})
	cs := unlimited(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	simulatedNodes(ctx, b, cs, 10)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-%d", i)
		start := time.Now()
		if _, err := cs.AppsV1().Deployments("default").Create(ctx, deploymentOf(name, 100), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitAvailable(ctx, b, cs, name, 100)
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-available")
}

// cpuTicks reads a process's user+system CPU time in clock ticks.
func cpuTicks(tb testing.TB, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(data)[strings.LastIndex(string(data), ")")+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// BenchmarkControllersIdle1000Objects measures `skiff server` (controllers, scheduler, API server, etcd) at
// rest with 1,000 objects: 40 Deployments of 10 replicas on simulated nodes (40 Deployments, 40 ReplicaSets,
// 400 pods) and 520 ConfigMaps. After everything settled, CPU is sampled over 30 s and RSS read.
func BenchmarkControllersIdle1000Objects(b *testing.B) {
	c := framework.Start(b, framework.Options{ExtraArgs: []string{"--disable-controllers=nodelifecycle"}})
	cs := unlimited(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	simulatedNodes(ctx, b, cs, 10)
	for i := 0; i < 40; i++ {
		if _, err := cs.AppsV1().Deployments("default").Create(ctx, deploymentOf(fmt.Sprintf("idle-%02d", i), 10), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := parallel(520, func(i int) error {
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%03d", i)},
			Data: map[string]string{"k": strings.Repeat("v", 100)}}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		waitAvailable(ctx, b, cs, fmt.Sprintf("idle-%02d", i), 10)
	}
	time.Sleep(10 * time.Second) // let status writes and events settle
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := cpuTicks(b, c.PID())
		time.Sleep(30 * time.Second)
		after := cpuTicks(b, c.PID())
		// Clock ticks are 1/100 s on Linux.
		b.ReportMetric(float64(after-before)/100/30*100, "idle-CPU-%")
	}
	b.ReportMetric(float64(rssKiB(b, c.PID()))/1024, "RSS-MiB")
}
