package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/kubelet/node"
	"skiff/test/e2e/framework"
)

// TestNodeRegistrationAndHeartbeat: the node agent's registration reaches the API as upstream's kubelet's
// does (capacity, allocatable, addresses, nodeInfo, Ready), and its Lease in kube-node-lease keeps renewing.
func TestNodeRegistrationAndHeartbeat(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	agent := node.New(c.Client, node.Config{Name: "agent-1", IP: "127.0.0.1", Labels: map[string]string{"tier": "test"},
		Taints: []corev1.Taint{{Key: "example.com/test", Effect: corev1.TaintEffectPreferNoSchedule}}, MaxPods: 50,
		Reserved: corev1.ResourceList{corev1.ResourceMemory: *mustQuantity("100Mi")}, DataDir: c.DataDir,
		RuntimeVersion: "containerd://test", KubeletVersion: "v1.37.2", LeaseInterval: 500 * time.Millisecond})
	if err := agent.Register(ctx); err != nil {
		t.Fatal(err)
	}
	go agent.Run(ctx)
	n, err := c.Client.CoreV1().Nodes().Get(ctx, "agent-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capMem, allocMem := n.Status.Capacity[corev1.ResourceMemory], n.Status.Allocatable[corev1.ResourceMemory]
	capMem.Sub(allocMem)
	ready := false
	for _, cond := range n.Status.Conditions {
		ready = ready || (cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue && cond.Reason == "KubeletReady")
	}
	pods := n.Status.Capacity[corev1.ResourcePods]
	// 100Mi reserved plus upstream's default hard eviction threshold for memory (100Mi).
	if !ready || pods.Value() != 50 || capMem.String() != "200Mi" || n.Labels["tier"] != "test" || n.Labels[corev1.LabelHostname] != "agent-1" ||
		len(n.Spec.Taints) != 1 || n.Status.NodeInfo.KubeletVersion != "v1.37.2" || n.Status.NodeInfo.KernelVersion == "" ||
		len(n.Status.Addresses) == 0 || n.Status.Addresses[0].Address != "127.0.0.1" {
		t.Fatalf("registered node: %+v", n)
	}
	out := kubectl(t, c, "get", "node", "agent-1", "-o", "wide")
	mustContain(t, out, "agent-1", "Ready", "v1.37.2", "127.0.0.1", "containerd://test")

	var first time.Time
	eventually(t, 10*time.Second, func() error {
		l, err := c.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "agent-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if *l.Spec.HolderIdentity != "agent-1" || *l.Spec.LeaseDurationSeconds != 40 || len(l.OwnerReferences) != 1 {
			return fmt.Errorf("lease %+v", l.Spec)
		}
		if first.IsZero() {
			first = l.Spec.RenewTime.Time
			return fmt.Errorf("waiting for a renewal")
		}
		if !l.Spec.RenewTime.After(first) {
			return fmt.Errorf("lease not renewed since %s", first)
		}
		return nil
	})
}
