package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"skiff/test/e2e/framework"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "inf"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
}

// podRecorder counts what an informer delivered.
type podRecorder struct {
	mu      sync.Mutex
	adds    map[string]int
	deletes map[string]int
}

func (r *podRecorder) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			r.mu.Lock()
			r.adds[o.(*corev1.Pod).Name]++
			r.mu.Unlock()
		},
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			r.mu.Lock()
			r.deletes[o.(*corev1.Pod).Name]++
			r.mu.Unlock()
		},
	}
}

func (r *podRecorder) counts(name string) (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.adds[name], r.deletes[name]
}

// TestInformerAcrossRestart runs a client-go informer on pods while the server restarts: the informer must keep
// working and pick up changes made after the restart, and a watch resumed from a resourceVersion taken before
// the restart must continue from there.
func TestInformerAcrossRestart(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pods := c.Client.CoreV1().Pods("default")
	for i := 0; i < 3; i++ {
		if _, err := pods.Create(ctx, testPod(fmt.Sprintf("before-%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rec := &podRecorder{adds: map[string]int{}, deletes: map[string]int{}}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(rec.handler()); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resumeRV := list.ResourceVersion

	// Changes to other resources move etcd's revision on; the pod watch must still resume.
	for i := 0; i < 5; i++ {
		if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("noise-%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c.Restart(t)
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, testPod("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, "before-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		if a, _ := rec.counts("after"); a != 1 {
			return fmt.Errorf("informer saw %d adds of the pod created after the restart", a)
		}
		if _, d := rec.counts("before-0"); d != 1 {
			return fmt.Errorf("informer saw %d deletes of before-0", d)
		}
		return nil
	})
	for i := 0; i < 3; i++ {
		if a, _ := rec.counts(fmt.Sprintf("before-%d", i)); a != 1 {
			t.Fatalf("pod before-%d added %d times: the informer relisted instead of resuming", i, a)
		}
	}

	// A watch from the resourceVersion listed before the restart sees exactly what happened since.
	w, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: resumeRV})
	if err != nil {
		t.Fatalf("resume watch from %s: %v", resumeRV, err)
	}
	defer w.Stop()
	want := []struct {
		typ  watch.EventType
		name string
	}{{watch.Added, "after"}, {watch.Deleted, "before-0"}}
	// Other writers (the scheduler marks pods it cannot place) add MODIFIED events; the adds and deletes must
	// come in order.
	for _, ev := range want {
		for {
			var got watch.Event
			select {
			case got = <-w.ResultChan():
			case <-time.After(10 * time.Second):
				t.Fatalf("resumed watch: no %s event for %s", ev.typ, ev.name)
			}
			if got.Type == watch.Modified {
				continue
			}
			p, ok := got.Object.(*corev1.Pod)
			if !ok || got.Type != ev.typ || p.Name != ev.name {
				t.Fatalf("resumed watch: got %s %v, want %s %s", got.Type, got.Object, ev.typ, ev.name)
			}
			break
		}
	}
}

// TestStaleResourceVersion: a watch from a compacted revision gets 410 Gone, and an informer recovers by
// relisting.
func TestStaleResourceVersion(t *testing.T) {
	e := framework.StartEtcd(t)
	c := framework.Start(t, framework.Options{EtcdServers: []string{e.Endpoint}})
	ctx := context.Background()
	cms := c.Client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "first"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("later-%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	compactEtcd(t, e.Endpoint)
	// Restart so the watch cache's own history is gone too: the resume must reach etcd and find it compacted.
	c.Restart(t)
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	w, err := client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err == nil {
		defer w.Stop()
		select {
		case ev := <-w.ResultChan():
			st, ok := ev.Object.(*metav1.Status)
			if ev.Type != watch.Error || !ok || st.Code != 410 {
				t.Fatalf("watch from compacted revision: got %s %#v, want ERROR 410", ev.Type, ev.Object)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event from a watch at a compacted revision")
		}
	} else if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from compacted revision: %v, want 410", err)
	}
	_, err = client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("exact list at compacted revision: %v, want 410", err)
	}

	// An informer started now lists afresh and sees everything.
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	// Six made here, besides the kube-root-ca.crt the root CA publisher keeps in every namespace.
	n := 0
	for _, k := range inf.GetStore().ListKeys() {
		if k != "default/kube-root-ca.crt" {
			n++
		}
	}
	if n != 6 {
		t.Fatalf("informer has %d configmaps, want 6", n)
	}
}
