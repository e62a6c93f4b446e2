package policy

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

type countingMapper struct {
	meta.RESTMapper
	resets atomic.Int32
}

func (c *countingMapper) Reset() { c.resets.Add(1) }

// A named param missing from the informer is not fetched from the API (upstream reads the informer only),
// and an unknown paramKind resets the RESTMapper at most once per interval.
func TestParamsInformerOnlyAndResetRateLimited(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{{Version: "v1", Resource: "configmaps"}: "ConfigMapList"})
	var gets atomic.Int32
	dyn.PrependReactor("get", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets.Add(1)
		return false, nil, nil
	})
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Version: "v1"}})
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	cm := &countingMapper{RESTMapper: m}
	p := NewParams(ctx, dyn, cm)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }

	ref := &admissionregv1.ParamRef{Name: "missing", ParameterNotFoundAction: ptr.To(admissionregv1.AllowAction)}
	for range 3 {
		params, err := p.Collect(&admissionregv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}, ref, "a")
		if err != nil || len(params) != 0 {
			t.Fatalf("params %v, err %v", params, err)
		}
	}
	if n := gets.Load(); n != 0 {
		t.Fatalf("%d GETs for a param missing from the informer", n)
	}

	unknown := &admissionregv1.ParamKind{APIVersion: "example.com/v1", Kind: "Nope"}
	for range 5 {
		if _, err := p.Collect(unknown, ref, "a"); err == nil {
			t.Fatal("unknown kind found")
		}
	}
	if n := cm.resets.Load(); n != 1 {
		t.Fatalf("%d resets, want 1", n)
	}
	now = now.Add(resetInterval)
	if _, err := p.Collect(unknown, ref, "a"); err == nil {
		t.Fatal("unknown kind found")
	}
	if n := cm.resets.Load(); n != 2 {
		t.Fatalf("%d resets after the interval, want 2", n)
	}
}
