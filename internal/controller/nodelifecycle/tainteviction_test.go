package nodelifecycle

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

func secs(s int64) *int64 { return &s }

func TestMinTolerationTime(t *testing.T) {
	for _, tc := range []struct {
		tols []corev1.Toleration
		want time.Duration
	}{
		{nil, 0},
		{[]corev1.Toleration{{}}, -1},
		{[]corev1.Toleration{{TolerationSeconds: secs(30)}, {TolerationSeconds: secs(10)}, {}}, 10 * time.Second},
		{[]corev1.Toleration{{TolerationSeconds: secs(30)}, {TolerationSeconds: secs(-5)}}, 0},
	} {
		if got := minTolerationTime(tc.tols); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.tols, got, tc.want)
		}
	}
}

func TestMatchingTolerations(t *testing.T) {
	taints := []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoExecute}, {Key: "b", Value: "x", Effect: corev1.TaintEffectNoExecute}}
	ok, used := matchingTolerations(taints, []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}})
	if ok || used != nil {
		t.Errorf("b is not tolerated: %v %v", ok, used)
	}
	ok, used = matchingTolerations(taints, []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, TolerationSeconds: secs(5)},
		{Key: "b", Value: "x", Effect: corev1.TaintEffectNoExecute}})
	if !ok || len(used) != 2 {
		t.Errorf("both tolerated: %v %v", ok, used)
	}
	if ok, _ := matchingTolerations(taints, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}); !ok {
		t.Errorf("an empty key with Exists tolerates everything")
	}
}

func TestTaintEviction(t *testing.T) {
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	if err := StartTaintEviction(ctx, client, factory, rec); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	unreachable := func(s *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: s}
	}
	for name, tols := range map[string][]corev1.Toleration{
		"none":    nil,
		"short":   {unreachable(secs(1))},
		"forever": {unreachable(nil)},
		"long":    {unreachable(secs(300))},
	} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n", Tolerations: tols}}
		if _, err := client.CoreV1().Pods("ns").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Another node's pods are not touched.
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "m"}}
	if _, err := client.CoreV1().Pods("ns").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	gone := func(name string) bool {
		_, err := client.CoreV1().Pods("ns").Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}
	if gone("none") {
		t.Fatal("a pod was deleted from an untainted node")
	}

	tainted := time.Now()
	node.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: tainted}}}
	if _, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if !gone("none") {
			return fmt.Errorf("untolerating pod still there")
		}
		return nil
	})
	if gone("short") {
		t.Fatal("the pod tolerating 1 s was deleted at once")
	}
	eventually(t, func() error {
		if !gone("short") {
			return fmt.Errorf("pod tolerating 1 s still there")
		}
		return nil
	})
	if d := time.Since(tainted); d < time.Second {
		t.Errorf("pod tolerating 1 s deleted after %v", d)
	}
	if gone("forever") || gone("long") || gone("elsewhere") {
		t.Fatal("a tolerating pod was deleted")
	}
	wantEvents(t, rec, "Normal TaintManagerEviction Marking for deletion Pod ns/none", "Normal TaintManagerEviction Marking for deletion Pod ns/short")

	// The taint goes: the pending eviction is cancelled.
	node.Spec.Taints = nil
	if _, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, rec, "Normal TaintManagerEviction Cancelling deletion of Pod ns/long")
	if gone("long") {
		t.Fatal("pod deleted")
	}
}

func TestDeleteMarksDisruptionTarget(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	client := fake.NewClientset(pod)
	tc := &TaintEviction{client: client, recorder: record.NewFakeRecorder(10), now: time.Now}
	var conditioned bool
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p, err := client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "ns", "p")
		if err == nil {
			for _, c := range p.(*corev1.Pod).Status.Conditions {
				conditioned = conditioned || (c.Type == corev1.DisruptionTarget && c.Reason == reasonDeletionByTaintManager && c.Message == messageDeletionByTaintManager)
			}
		}
		return false, nil, nil
	})
	if err := tc.deletePod(context.Background(), types.NamespacedName{Namespace: "ns", Name: "p"}); err != nil {
		t.Fatal(err)
	}
	if !conditioned {
		t.Fatal("pod not marked DisruptionTarget before its deletion")
	}
	if _, err := client.CoreV1().Pods("ns").Get(context.Background(), "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod still there: %v", err)
	}
}
