package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/test/e2e/framework"
)

// nodeSpec describes a node registered through the API (no kubelet: the scheduler only needs the object).
type nodeSpec struct {
	name   string
	cpu    string
	memory string
	labels map[string]string
	taints []corev1.Taint
}

func createNode(t *testing.T, c kubernetes.Interface, n nodeSpec) {
	t.Helper()
	labels := map[string]string{corev1.LabelHostname: n.name}
	for k, v := range n.labels {
		labels[k] = v
	}
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(n.cpu), corev1.ResourceMemory: resource.MustParse(n.memory),
		corev1.ResourcePods: resource.MustParse("110")}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: labels}, Spec: corev1.NodeSpec{Taints: n.taints},
		Status: corev1.NodeStatus{Capacity: rl, Allocatable: rl, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if _, err := c.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podWith(name string, cpu string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": strings.SplitN(name, "-", 2)[0]}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

// waitScheduled waits until the pods are bound and returns pod name -> node.
func waitScheduled(t *testing.T, c kubernetes.Interface, ns string, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eventually(t, 60*time.Second, func() error {
		for _, n := range names {
			p, err := c.CoreV1().Pods(ns).Get(context.Background(), n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Spec.NodeName == "" {
				return fmt.Errorf("pod %s not scheduled", n)
			}
			out[n] = p.Spec.NodeName
		}
		return nil
	})
	return out
}

// waitUnschedulable waits for PodScheduled=False/Unschedulable and returns its message.
func waitUnschedulable(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	var msg string
	eventually(t, 30*time.Second, func() error {
		p, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				msg = cond.Message
				return nil
			}
		}
		return fmt.Errorf("pod %s not marked unschedulable: %+v (node %q)", name, p.Status.Conditions, p.Spec.NodeName)
	})
	return msg
}

// actAsKubelet removes pods that were marked for deletion on nodes, as a kubelet does once containers stop.
func actAsKubelet(ctx context.Context, c kubernetes.Interface, ns string) {
	zero := int64(0)
	for ctx.Err() == nil {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil {
					_ = c.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestScheduling(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	cs := c.Client
	ctx := context.Background()
	createNode(t, cs, nodeSpec{name: "gpu-1", cpu: "4", memory: "8Gi", labels: map[string]string{corev1.LabelTopologyZone: "z1", "gpu": "true"},
		taints: []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}})
	for i, zone := range []string{"z1", "z2", "z2"} {
		createNode(t, cs, nodeSpec{name: fmt.Sprintf("node-%d", i+1), cpu: "2", memory: "4Gi", labels: map[string]string{corev1.LabelTopologyZone: zone}})
	}
	pods := cs.CoreV1().Pods("default")

	t.Run("TaintsAndTolerations", func(t *testing.T) {
		tol := func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
			p.Spec.NodeSelector = map[string]string{"gpu": "true"}
		}
		for _, p := range []*corev1.Pod{podWith("plain-1", "100m"), podWith("tolerant-1", "100m", tol)} {
			if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		got := waitScheduled(t, cs, "default", "plain-1", "tolerant-1")
		if got["plain-1"] == "gpu-1" || got["tolerant-1"] != "gpu-1" {
			t.Fatalf("placements %v", got)
		}
		// Without a toleration, the tainted node is refused with upstream's words.
		if _, err := pods.Create(ctx, podWith("gpuonly-1", "100m", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"gpu": "true"} }), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		msg := waitUnschedulable(t, cs, "default", "gpuonly-1")
		if msg != "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 node(s) didn't match Pod's node affinity/selector." &&
			!strings.Contains(msg, "untolerated taint") {
			t.Fatalf("message %q", msg)
		}
		t.Logf("FailedScheduling message: %s", msg)
	})

	t.Run("NodeAffinity", func(t *testing.T) {
		aff := func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"z2"}}}}}}}}
		}
		for i := 0; i < 3; i++ {
			if _, err := pods.Create(ctx, podWith(fmt.Sprintf("zonal-%d", i), "100m", aff), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for name, node := range waitScheduled(t, cs, "default", "zonal-0", "zonal-1", "zonal-2") {
			if node != "node-2" && node != "node-3" {
				t.Fatalf("%s on %s, outside zone z2", name, node)
			}
		}
	})

	t.Run("AntiAffinitySpreadsReplicas", func(t *testing.T) {
		anti := func(p *corev1.Pod) {
			p.Labels["app"] = "spread"
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
				{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}}, TopologyKey: corev1.LabelHostname}}}}
		}
		var names []string
		for i := 0; i < 3; i++ {
			names = append(names, fmt.Sprintf("spread-%d", i))
			if _, err := pods.Create(ctx, podWith(names[i], "100m", anti), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		got := waitScheduled(t, cs, "default", names...)
		seen := map[string]bool{}
		for _, n := range got {
			if seen[n] {
				t.Fatalf("two replicas on %s: %v", n, got)
			}
			seen[n] = true
		}
		if _, err := pods.Create(ctx, podWith("spread-3", "100m", anti), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		msg := waitUnschedulable(t, cs, "default", "spread-3")
		mustContain(t, msg, "0/4 nodes are available", "didn't match pod anti-affinity rules")
	})

	t.Run("TopologySpreadOverZones", func(t *testing.T) {
		spread := func(p *corev1.Pod) {
			p.Labels["app"] = "tsc" // not "zonal": the NodeAffinity test's pods carry that label
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "tsc"}}}}
		}
		var names []string
		for i := 0; i < 4; i++ {
			names = append(names, fmt.Sprintf("tsc-%d", i))
			if _, err := pods.Create(ctx, podWith(names[i], "100m", spread), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitScheduled(t, cs, "default", names[i])
		}
		zones := map[string]int{}
		for _, node := range waitScheduled(t, cs, "default", names...) {
			n, _ := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			zones[n.Labels[corev1.LabelTopologyZone]]++
		}
		if zones["z1"] != 2 || zones["z2"] != 2 {
			t.Fatalf("zone spread %v", zones)
		}
	})

	t.Run("InsufficientResources", func(t *testing.T) {
		if _, err := pods.Create(ctx, podWith("huge-1", "64"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		msg := waitUnschedulable(t, cs, "default", "huge-1")
		mustContain(t, msg, "0/4 nodes are available:", "Insufficient cpu")
		eventually(t, 30*time.Second, func() error {
			evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=huge-1,reason=FailedScheduling"})
			if err != nil {
				return err
			}
			for _, e := range evs.Items {
				if strings.Contains(e.Message, "Insufficient cpu") && e.Type == corev1.EventTypeWarning {
					t.Logf("FailedScheduling event: %s", e.Message)
					return nil
				}
			}
			return fmt.Errorf("no FailedScheduling event yet (%d events)", len(evs.Items))
		})
	})
}

func TestPreemption(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	cs := c.Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go actAsKubelet(ctx, cs, "default")
	createNode(t, cs, nodeSpec{name: "small", cpu: "1", memory: "2Gi"})
	if _, err := cs.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, podWith("low-1", "800m"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, cs, "default", "low-1")
	high, err := pods.Create(ctx, podWith("high-1", "800m", func(p *corev1.Pod) { p.Spec.PriorityClassName = "high" }), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if high.Spec.Priority == nil || *high.Spec.Priority != 1000 {
		t.Fatalf("priority admission: %v", high.Spec.Priority)
	}
	got := waitScheduled(t, cs, "default", "high-1")
	if got["high-1"] != "small" {
		t.Fatalf("high-priority pod on %q", got["high-1"])
	}
	if _, err := pods.Get(ctx, "low-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("victim still there: %v", err)
	}
	evs, _ := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=low-1"})
	found := false
	for _, e := range evs.Items {
		found = found || e.Reason == "Preempted"
	}
	if !found {
		t.Fatalf("no Preempted event for the victim: %+v", evs.Items)
	}
	// A pod naming a missing PriorityClass is refused at admission.
	_, err = pods.Create(ctx, podWith("bad-1", "1m", func(p *corev1.Pod) { p.Spec.PriorityClassName = "nope" }), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("missing priority class: %v", err)
	}
}

// TestBinPacking compares the two resource scoring strategies on 20 equal nodes, using two scheduler profiles
// of one server: default-scheduler (LeastAllocated) spreads, bin-packing (MostAllocated) fills nodes.
func TestBinPacking(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "scheduler.yaml")
	if err := os.WriteFile(cfgFile, []byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 1
        - name: memory
          weight: 1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--scheduler-config", cfgFile}})
	cs := unlimited(c)
	ctx := context.Background()
	const nodes, cpuPerNode = 20, 4000
	for i := 0; i < nodes; i++ {
		createNode(t, cs, nodeSpec{name: fmt.Sprintf("n%02d", i), cpu: "4", memory: "16Gi"})
	}
	create := func(ns, scheduler string, cpus []int) []string {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for i, m := range cpus {
			name := fmt.Sprintf("p-%03d", i)
			names = append(names, name)
			p := podWith(name, fmt.Sprintf("%dm", m), func(p *corev1.Pod) {
				p.Spec.SchedulerName = scheduler
				p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse(fmt.Sprintf("%dMi", m))
			})
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return names
	}
	perNode := func(placements map[string]string) map[string]int {
		out := map[string]int{}
		for _, n := range placements {
			out[n]++
		}
		return out
	}

	// LeastAllocated: 100 equal pods spread evenly.
	equal := make([]int, 100)
	for i := range equal {
		equal[i] = 200
	}
	spread := perNode(waitScheduled(t, cs, "spread", create("spread", "default-scheduler", equal)...))
	minC, maxC := 1<<30, 0
	for i := 0; i < nodes; i++ {
		n := spread[fmt.Sprintf("n%02d", i)]
		minC, maxC = min(minC, n), max(maxC, n)
	}
	t.Logf("LeastAllocated: 100 equal pods on %d nodes, pods per node min %d max %d", nodes, minC, maxC)
	if maxC-minC > 1 {
		t.Fatalf("LeastAllocated did not spread: min %d max %d (%v)", minC, maxC, spread)
	}
	if err := cs.CoreV1().Pods("spread").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		l, _ := cs.CoreV1().Pods("spread").List(ctx, metav1.ListOptions{})
		if len(l.Items) > 0 {
			return fmt.Errorf("%d pods left", len(l.Items))
		}
		return nil
	})

	// MostAllocated: 100 pods of assorted sizes packed onto as few nodes as possible.
	sizes := make([]int, 100)
	for i := range sizes {
		sizes[i] = []int{100, 250, 500, 750, 1000}[(i*7)%5]
	}
	packed := perNode(waitScheduled(t, cs, "packed", create("packed", "bin-packing", sizes)...))
	bound := firstFitDecreasing(sizes, cpuPerNode)
	t.Logf("MostAllocated: 100 assorted pods (%d m CPU in all) used %d nodes; first-fit-decreasing bound %d", sum(sizes), len(packed), bound)
	if len(packed) > bound+1 {
		t.Fatalf("MostAllocated used %d nodes, more than the first-fit-decreasing bound %d + 1", len(packed), bound)
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// firstFitDecreasing packs sizes into bins of capacity and returns the number of bins.
func firstFitDecreasing(sizes []int, capacity int) int {
	s := append([]int(nil), sizes...)
	sort.Sort(sort.Reverse(sort.IntSlice(s)))
	var bins []int
	for _, x := range s {
		placed := false
		for i := range bins {
			if bins[i]+x <= capacity {
				bins[i] += x
				placed = true
				break
			}
		}
		if !placed {
			bins = append(bins, x)
		}
	}
	return len(bins)
}
