package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"skiff/test/e2e/framework"
)

// TestNodePodCIDRAllocation: the controller manager cuts --cluster-cidr into --node-cidr-mask-size subnets,
// one per Node, never twice the same; a Node that brings its own keeps it; when none is left the Node gets
// a CIDRNotAvailable event, and a deleted Node's subnet goes to the next one. spec.podCIDR is immutable.
func TestNodePodCIDRAllocation(t *testing.T) {
	// 10.244.0.0/22 in /24s: four subnets.
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler", "--cluster-cidr=10.244.0.0/22", "--node-cidr-mask-size=24"}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := c.Client.CoreV1().Nodes()
	create := func(name, podCIDR string) {
		t.Helper()
		if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	subnetOf := func(name string) string {
		t.Helper()
		var got string
		eventually(t, 20*time.Second, func() error {
			n, err := nodes.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if n.Spec.PodCIDR == "" {
				return fmt.Errorf("node %s has no podCIDR yet", name)
			}
			if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
				return fmt.Errorf("node %s podCIDR %s podCIDRs %v", name, n.Spec.PodCIDR, n.Spec.PodCIDRs)
			}
			got = n.Spec.PodCIDR
			return nil
		})
		return got
	}

	// A hand-set subnet inside the range is respected and not handed out again.
	create("static", "10.244.2.0/24")
	for i := 1; i <= 3; i++ {
		create(fmt.Sprintf("node-%d", i), "")
	}
	seen := map[string]string{"10.244.2.0/24": "static"}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("node-%d", i)
		s := subnetOf(name)
		p := netip.MustParsePrefix(s)
		if p.Bits() != 24 || !netip.MustParsePrefix("10.244.0.0/22").Contains(p.Addr()) {
			t.Fatalf("%s got %s, not a /24 of 10.244.0.0/22", name, s)
		}
		if other, dup := seen[s]; dup {
			t.Fatalf("%s and %s both got %s", name, other, s)
		}
		seen[s] = name
	}
	if got := subnetOf("static"); got != "10.244.2.0/24" {
		t.Fatalf("static node's podCIDR changed to %s", got)
	}

	// Full: the fifth node waits, with an event saying why.
	create("node-4", "")
	eventually(t, 20*time.Second, func() error {
		evs, err := c.Client.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: fields.Set{"involvedObject.name": "node-4", "reason": "CIDRNotAvailable"}.String()})
		if err != nil {
			return err
		}
		if len(evs.Items) == 0 {
			return fmt.Errorf("no CIDRNotAvailable event for node-4")
		}
		return nil
	})
	if n, err := nodes.Get(ctx, "node-4", metav1.GetOptions{}); err != nil || n.Spec.PodCIDR != "" {
		t.Fatalf("node-4 podCIDR %q err %v while the range is full", n.Spec.PodCIDR, err)
	}
	// Deleting node-2 frees its subnet for node-4.
	freed := subnetOf("node-2")
	if err := nodes.Delete(ctx, "node-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := subnetOf("node-4"); got != freed {
		t.Fatalf("node-4 got %s, want node-2's freed %s", got, freed)
	}

	// spec.podCIDR is immutable once set, as upstream.
	n, err := nodes.Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.3.0/24", nil
	if _, err := nodes.Update(ctx, n, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing spec.podCIDR: err %v, want Invalid", err)
	}
}
