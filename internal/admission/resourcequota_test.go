package admission

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// quotaStore is an in-memory quota store with the compare-and-swap the server's updater gives.
type quotaStore struct {
	mu     sync.Mutex
	quotas map[string]*corev1.ResourceQuota
}

func newQuotaStore(qs ...*corev1.ResourceQuota) *quotaStore {
	s := &quotaStore{quotas: map[string]*corev1.ResourceQuota{}}
	for _, q := range qs {
		q.Namespace = "ns"
		q.Status.Hard = q.Spec.Hard.DeepCopy()
		if q.Status.Used == nil {
			q.Status.Used = corev1.ResourceList{}
			for k := range q.Spec.Hard {
				q.Status.Used[k] = rl(string(k), "0")[k]
			}
		}
		s.quotas[q.Name] = q
	}
	return s
}

func (s *quotaStore) plugin() ResourceQuota {
	return ResourceQuota{
		List: func(context.Context, string) ([]*corev1.ResourceQuota, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var out []*corev1.ResourceQuota
			for _, q := range s.quotas {
				out = append(out, q.DeepCopy())
			}
			return out, nil
		},
		UpdateStatus: func(_ context.Context, _, name string, fn func(*corev1.ResourceQuota) error) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			q, ok := s.quotas[name]
			if !ok {
				return apierrors.NewNotFound(schema.GroupResource{Resource: "resourcequotas"}, name)
			}
			next := q.DeepCopy()
			if err := fn(next); err != nil {
				if err == ErrQuotaUnchanged {
					return nil
				}
				return err
			}
			s.quotas[name] = next
			return nil
		},
	}
}

func (s *quotaStore) used(name string, r corev1.ResourceName) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.quotas[name].Status.Used[r]
	return v.String()
}

func quotaObj(name string, hard corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes}}
}

func createAttrs(resource string, obj interface{ GetName() string }) *Attributes {
	a := &Attributes{Operation: Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: resource}, Namespace: "ns", Name: obj.GetName()}
	switch o := obj.(type) {
	case *corev1.Pod:
		a.Object = o
	case *corev1.ConfigMap:
		a.Object = o
	case *corev1.Service:
		a.Object = o
	}
	return a
}

func podWith(name string, cs ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: corev1.PodSpec{Containers: cs}}
}

func TestResourceQuotaPods(t *testing.T) {
	s := newQuotaStore(quotaObj("q", rl("pods", "2")))
	p := s.plugin()
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if err := p.Validate(ctx, createAttrs("pods", podWith(n, container("c", nil, nil)))); err != nil {
			t.Fatal(err)
		}
	}
	err := p.Validate(ctx, createAttrs("pods", podWith("c", container("c", nil, nil))))
	if want := `pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`; err == nil || err.Error() != want || !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v", err)
	}
	if got := s.used("q", "pods"); got != "2" {
		t.Fatalf("used pods = %s", got)
	}
}

func TestResourceQuotaCompute(t *testing.T) {
	s := newQuotaStore(quotaObj("compute", rl("requests.cpu", "2", "limits.memory", "1Gi")))
	p := s.plugin()
	ctx := context.Background()
	err := p.Validate(ctx, createAttrs("pods", podWith("bare", container("app", nil, nil), container("side", rl("cpu", "1"), nil))))
	if want := `pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: app,side; requests.cpu for: app`; err == nil || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
	ok := podWith("ok", container("app", rl("cpu", "1500m"), rl("memory", "512Mi")))
	if err := p.Validate(ctx, createAttrs("pods", ok)); err != nil {
		t.Fatal(err)
	}
	err = p.Validate(ctx, createAttrs("pods", podWith("big", container("app", rl("cpu", "1"), rl("memory", "100Mi")))))
	if want := `pods "big" is forbidden: exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=1500m, limited: requests.cpu=2`; err == nil || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
	if s.used("compute", "requests.cpu") != "1500m" || s.used("compute", "limits.memory") != "512Mi" {
		t.Fatalf("used = %v", s.quotas["compute"].Status.Used)
	}
}

func TestResourceQuotaScopes(t *testing.T) {
	s := newQuotaStore(quotaObj("besteffort", rl("pods", "1"), corev1.ResourceQuotaScopeBestEffort))
	p := s.plugin()
	ctx := context.Background()
	for _, n := range []string{"burstable-1", "burstable-2"} {
		if err := p.Validate(ctx, createAttrs("pods", podWith(n, container("c", rl("cpu", "1m"), nil)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Validate(ctx, createAttrs("pods", podWith("be-1", container("c", nil, nil)))); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(ctx, createAttrs("pods", podWith("be-2", container("c", nil, nil)))); !apierrors.IsForbidden(err) {
		t.Fatalf("second best-effort pod: %v", err)
	}
}

func TestResourceQuotaCountsAndServices(t *testing.T) {
	s := newQuotaStore(quotaObj("objects", rl("count/configmaps", "1", "services.nodeports", "1")))
	p := s.plugin()
	ctx := context.Background()
	cm := func(n string) *corev1.ConfigMap { return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}} }
	if err := p.Validate(ctx, createAttrs("configmaps", cm("one"))); err != nil {
		t.Fatal(err)
	}
	err := p.Validate(ctx, createAttrs("configmaps", cm("two")))
	if want := `configmaps "two" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1`; err == nil || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80}, {Port: 81}}}}
	err = p.Validate(ctx, createAttrs("services", svc))
	if want := `services "np" is forbidden: exceeded quota: objects, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1`; err == nil || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
	// An update to ClusterIP gives the node ports back; from ClusterIP to NodePort charges them.
	old := svc.DeepCopy()
	old.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Ports = svc.Spec.Ports[:1]
	a := &Attributes{Operation: Update, Resource: schema.GroupVersionResource{Version: "v1", Resource: "services"}, Namespace: "ns", Name: "np", Object: svc, OldObject: old}
	if err := p.Validate(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := s.used("objects", "services.nodeports"); got != "1" {
		t.Fatalf("nodeports used = %s", got)
	}
}

func TestResourceQuotaStatusUnknown(t *testing.T) {
	s := newQuotaStore(quotaObj("fresh", rl("pods", "5")))
	s.quotas["fresh"].Status.Used = nil
	err := s.plugin().Validate(context.Background(), createAttrs("pods", podWith("p", container("c", nil, nil))))
	if want := `pods "p" is forbidden: status unknown for quota: fresh, resources: pods`; err == nil || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
}

// Two quotas: when the second refuses, the first gets its charge back.
func TestResourceQuotaRefund(t *testing.T) {
	s := newQuotaStore(quotaObj("a", rl("pods", "10")), quotaObj("b", rl("pods", "0")))
	err := s.plugin().Validate(context.Background(), createAttrs("pods", podWith("p", container("c", nil, nil))))
	if !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v", err)
	}
	if s.used("a", "pods") != "0" || s.used("b", "pods") != "0" {
		t.Fatalf("used a=%s b=%s", s.used("a", "pods"), s.used("b", "pods"))
	}
}

func TestResourceQuotaConcurrent(t *testing.T) {
	s := newQuotaStore(quotaObj("q", rl("pods", "5")))
	p := s.plugin()
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.Validate(context.Background(), createAttrs("pods", podWith(string(rune('a'+i)), container("c", nil, nil)))) == nil {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 5 || s.used("q", "pods") != "5" {
		t.Fatalf("allowed %d, used %s", allowed, s.used("q", "pods"))
	}
}

// A write that fails after admission (the name is taken) gets its charge back.
func TestResourceQuotaFailedWriteRefunds(t *testing.T) {
	s := newQuotaStore(quotaObj("q", rl("pods", "2")))
	a := createAttrs("pods", podWith("p", container("c", nil, nil)))
	if err := s.plugin().Validate(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := s.used("q", "pods"); got != "1" {
		t.Fatalf("used after admission = %s", got)
	}
	a.Failed(context.Background())
	a.Failed(context.Background()) // only once
	if got := s.used("q", "pods"); got != "0" {
		t.Fatalf("used after the failed write = %s", got)
	}
}
