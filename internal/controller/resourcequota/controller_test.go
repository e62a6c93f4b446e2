package resourcequota

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRecount(t *testing.T) {
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	pod := func(name string, phase corev1.PodPhase, cpu string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Status: corev1.PodStatus{Phase: phase},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
		if cpu != "" {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q(cpu)}
		}
		return p
	}
	client := fake.NewClientset(
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "all", Namespace: "ns"}, Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{"pods": q("10"), "requests.cpu": q("4"), "count/configmaps": q("5"), "services.loadbalancers": q("1")}}},
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "besteffort", Namespace: "ns"}, Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{"pods": q("10")}, Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}}},
		pod("running", corev1.PodRunning, "1"), pod("pending", corev1.PodPending, "500m"), pod("done", corev1.PodSucceeded, "1"),
		pod("be", corev1.PodRunning, ""),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "other"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inf := informers.NewSharedInformerFactory(client, 0)
	if err := Start(ctx, client, inf, Options{}); err != nil {
		t.Fatal(err)
	}
	inf.Start(ctx.Done())
	expect := func(name string, want corev1.ResourceList) {
		t.Helper()
		var got *corev1.ResourceQuota
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			var err error
			got, err = client.CoreV1().ResourceQuotas("ns").Get(ctx, name, metav1.GetOptions{})
			if err != nil || len(got.Status.Used) != len(want) {
				return false, err
			}
			for k, v := range want {
				if u, ok := got.Status.Used[k]; !ok || u.Cmp(v) != 0 {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("%s: status = %+v, want used %v", name, got.Status, want)
		}
	}
	expect("all", corev1.ResourceList{"pods": q("3"), "requests.cpu": q("1500m"), "count/configmaps": q("1"), "services.loadbalancers": q("0")})
	expect("besteffort", corev1.ResourceList{"pods": q("1")})

	// A deletion gives back what the pod used.
	if err := client.CoreV1().Pods("ns").Delete(ctx, "running", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("all", corev1.ResourceList{"pods": q("2"), "requests.cpu": q("500m"), "count/configmaps": q("1"), "services.loadbalancers": q("0")})
	got, _ := client.CoreV1().ResourceQuotas("ns").Get(ctx, "all", metav1.GetOptions{})
	if len(got.Status.Hard) != 4 {
		t.Fatalf("status.hard = %v", got.Status.Hard)
	}
}
