package policy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func apiPod(name, node, ip string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: lbls},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
}

// TestControllerSyncs runs the sync loop on a fake clientset: a policy isolates this node's pod (not the
// other node's), a pod status change that policies do not read is not applied again, and deleting the
// policy empties the table.
func TestControllerSyncs(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default", Labels: map[string]string{corev1.LabelMetadataName: "default"}}}
	client := fake.NewSimpleClientset(ns, apiPod("web", "n1", "10.42.0.2", map[string]string{"app": "web"}),
		apiPod("far", "n2", "10.42.1.2", map[string]string{"app": "web"}))
	var mu sync.Mutex
	var scripts []string
	c := New(client, Config{NodeName: "n1", MinSyncInterval: 20 * time.Millisecond, Apply: func(_ context.Context, s string) error {
		mu.Lock()
		defer mu.Unlock()
		scripts = append(scripts, s)
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	waitFor := func(what string, ok func(last string) bool) int {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(scripts)
			last := ""
			if n > 0 {
				last = scripts[n-1]
			}
			mu.Unlock()
			if n > 0 && ok(last) {
				return n
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
		return 0
	}
	waitFor("first sync", func(s string) bool { return !strings.Contains(s, "drop") })

	pol := np("deny", sel(), nil)
	if _, err := client.NetworkingV1().NetworkPolicies("default").Create(ctx, pol, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := waitFor("isolation", func(s string) bool { return strings.Contains(s, "10.42.0.2 : goto ingress-") })
	mu.Lock()
	if last := scripts[n-1]; strings.Contains(last, "10.42.1.2 :") {
		t.Errorf("the other node's pod is isolated here:\n%s", last)
	}
	mu.Unlock()

	p, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.NetworkingV1().NetworkPolicies("default").Delete(ctx, "deny", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	after := waitFor("policy removal", func(s string) bool { return !strings.Contains(s, "drop") })
	if after != n+1 {
		t.Errorf("%d transactions between isolation and removal, want 1 (the status change needs none)", after-n)
	}
}

func TestPodFrom(t *testing.T) {
	p := apiPod("web", "n1", "10.42.0.2", nil)
	if got, ok := PodFrom(p, "n1"); !ok || !got.Local || got.IP != ip("10.42.0.2") || len(got.Ports) != 1 {
		t.Fatalf("%+v %v", got, ok)
	}
	for name, mut := range map[string]func(*corev1.Pod){
		"no IP":        func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil },
		"host network": func(p *corev1.Pod) { p.Spec.HostNetwork = true },
		"succeeded":    func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded },
		"IPv6 only":    func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "fd00::2", []corev1.PodIP{{IP: "fd00::2"}} },
	} {
		q := p.DeepCopy()
		mut(q)
		if _, ok := PodFrom(q, "n1"); ok {
			t.Errorf("%s: pod kept", name)
		}
	}
}
