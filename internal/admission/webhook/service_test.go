package webhook

import (
	"strings"
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// TestServiceTarget: a service reference is routed to a ready endpoint of the Service's port (by port name),
// with the TLS server name <service>.<namespace>.svc.
func TestServiceTarget(t *testing.T) {
	svcs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	slices := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = svcs.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "wh", Namespace: "sys"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "other", Port: 80}, {Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}}}})
	name, other := "https", "other"
	p80, p8443 := int32(8080), int32(8443)
	f, tr := false, true
	_ = slices.Add(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "wh-1", Namespace: "sys",
		Labels: map[string]string{discoveryv1.LabelServiceName: "wh"}},
		Ports: []discoveryv1.EndpointPort{{Name: &other, Port: &p80}, {Name: &name, Port: &p8443}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &f}},
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: &tr}},
		}})
	p := New()
	p.svc, p.slices = corelisters.NewServiceLister(svcs), discoverylisters.NewEndpointSliceLister(slices)
	path := "/validate"
	h := &hook{ValidatingWebhook: admissionregv1.ValidatingWebhook{Name: "x", ClientConfig: admissionregv1.WebhookClientConfig{
		Service: &admissionregv1.ServiceReference{Namespace: "sys", Name: "wh", Path: &path}}}}
	u, dial, sn, err := p.target(h)
	if err != nil || u.String() != "https://wh.sys.svc:443/validate" || dial != "10.0.0.2:8443" || sn != "wh.sys.svc" {
		t.Fatalf("got %v %q %q %v", u, dial, sn, err)
	}
	missing := int32(444)
	h.ClientConfig.Service.Port = &missing
	if _, _, _, err := p.target(h); err == nil || !strings.Contains(err.Error(), "no port 444") {
		t.Errorf("missing port: %v", err)
	}
	h.ClientConfig.Service.Name = "gone"
	if _, _, _, err := p.target(h); err == nil {
		t.Error("missing service resolved")
	}
}
