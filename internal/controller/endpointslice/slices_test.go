package endpointslice

import (
	"fmt"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid", Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
			{Name: "metrics", Port: 9100, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)},
		}},
	}
}

func testPod(i int, ready bool, httpPort int32) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%03d", i), Namespace: "default", UID: types.UID(fmt.Sprintf("uid-%d", i)),
			Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: httpPort}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

// cluster applies plans to a fake set of slices, as the API server would.
type cluster struct {
	slices map[string]*discoveryv1.EndpointSlice
	n      int
	writes int
}

func (c *cluster) apply(t *testing.T, p plan) {
	t.Helper()
	for _, es := range p.create {
		if len(es.Endpoints) > maxEndpointsPerSlice {
			t.Fatalf("slice with %d endpoints", len(es.Endpoints))
		}
		cp := es.DeepCopy()
		c.n++
		cp.Name = fmt.Sprintf("%s%05d", es.GenerateName, c.n)
		cp.UID = types.UID(cp.Name)
		c.slices[cp.Name] = cp
		c.writes++
	}
	for _, es := range p.update {
		if c.slices[es.Name] == nil {
			t.Fatalf("update of unknown slice %s", es.Name)
		}
		if len(es.Endpoints) > maxEndpointsPerSlice {
			t.Fatalf("slice with %d endpoints", len(es.Endpoints))
		}
		c.slices[es.Name] = es.DeepCopy()
		c.writes++
	}
	for _, es := range p.delete {
		delete(c.slices, es.Name)
		c.writes++
	}
}

func (c *cluster) list() []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, es := range c.slices {
		out = append(out, es.DeepCopy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c *cluster) sync(t *testing.T, svc *corev1.Service, pods []*corev1.Pod) plan {
	t.Helper()
	p := reconcile(svc, c.list(), desiredGroups(svc, pods, func(string) string { return "zone-a" }))
	c.apply(t, p)
	return p
}

func (c *cluster) endpoints() map[string]discoveryv1.Endpoint {
	out := map[string]discoveryv1.Endpoint{}
	for _, es := range c.slices {
		for _, ep := range es.Endpoints {
			out[ep.TargetRef.Name] = ep
		}
	}
	return out
}

func newCluster() *cluster { return &cluster{slices: map[string]*discoveryv1.EndpointSlice{}} }

func TestNamedPortsAcrossPods(t *testing.T) {
	svc := testService()
	c := newCluster()
	c.sync(t, svc, []*corev1.Pod{testPod(1, true, 8080), testPod(2, true, 8080), testPod(3, true, 9090)})
	if len(c.slices) != 2 {
		t.Fatalf("%d slices, want 2 (one per resolved port set)", len(c.slices))
	}
	for _, es := range c.slices {
		if es.AddressType != discoveryv1.AddressTypeIPv4 || es.GenerateName != "web-" {
			t.Errorf("slice %+v", es.ObjectMeta)
		}
		if es.Labels[discoveryv1.LabelServiceName] != "web" || es.Labels[discoveryv1.LabelManagedBy] != ManagedBy || es.Labels["team"] != "a" {
			t.Errorf("labels %v", es.Labels)
		}
		if len(es.OwnerReferences) != 1 || es.OwnerReferences[0].UID != "svc-uid" || es.OwnerReferences[0].Kind != "Service" {
			t.Errorf("owner %v", es.OwnerReferences)
		}
		if len(es.Ports) != 2 || *es.Ports[0].Name != "http" || *es.Ports[1].Port != 9100 {
			t.Fatalf("ports %v", es.Ports)
		}
		want := int32(8080)
		if len(es.Endpoints) == 1 {
			want = 9090
		}
		if *es.Ports[0].Port != want || len(es.Endpoints) != map[int32]int{8080: 2, 9090: 1}[want] {
			t.Errorf("slice with http=%d has %d endpoints", *es.Ports[0].Port, len(es.Endpoints))
		}
	}
	// A pod without the named port gets only the numeric one.
	p := testPod(4, true, 0)
	p.Spec.Containers[0].Ports = nil
	c.sync(t, svc, []*corev1.Pod{testPod(1, true, 8080), p})
	if len(c.slices) != 2 {
		t.Fatalf("%d slices", len(c.slices))
	}
	for _, es := range c.slices {
		if es.Endpoints[0].TargetRef.Name == "web-004" && (len(es.Ports) != 1 || *es.Ports[0].Port != 9100) {
			t.Errorf("ports for the pod without http: %v", es.Ports)
		}
	}
}

func TestConditions(t *testing.T) {
	svc := testService()
	now := metav1.Now()
	terminatingReady := testPod(3, true, 8080)
	terminatingReady.DeletionTimestamp = &now
	hostnamed := testPod(4, true, 8080)
	hostnamed.Spec.Hostname, hostnamed.Spec.Subdomain = "h4", "web"
	finished := testPod(5, true, 8080)
	finished.Status.Phase = corev1.PodSucceeded
	noIP := testPod(6, true, 8080)
	noIP.Status.PodIP = ""
	v6 := testPod(7, true, 8080)
	v6.Status.PodIP = "fd00::7"
	pods := []*corev1.Pod{testPod(1, true, 8080), testPod(2, false, 8080), terminatingReady, hostnamed, finished, noIP, v6}
	c := newCluster()
	c.sync(t, svc, pods)
	eps := c.endpoints()
	if len(eps) != 5 {
		t.Fatalf("%d endpoints, want 5: %v", len(eps), eps)
	}
	check := func(name string, ready, serving, terminating bool) {
		t.Helper()
		ep := eps[name]
		if *ep.Conditions.Ready != ready || *ep.Conditions.Serving != serving || *ep.Conditions.Terminating != terminating {
			t.Errorf("%s: ready %v serving %v terminating %v", name, *ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating)
		}
		if *ep.NodeName != "n1" || *ep.Zone != "zone-a" || ep.TargetRef.Kind != "Pod" {
			t.Errorf("%s: %+v", name, ep)
		}
	}
	check("web-001", true, true, false)
	check("web-002", false, false, false)
	check("web-003", false, true, true)
	if h := eps["web-004"].Hostname; h == nil || *h != "h4" {
		t.Errorf("hostname %v", h)
	}
	if eps["web-001"].Hostname != nil {
		t.Error("hostname without subdomain")
	}
	types := map[discoveryv1.AddressType]int{}
	for _, es := range c.slices {
		types[es.AddressType] += len(es.Endpoints)
	}
	if types[discoveryv1.AddressTypeIPv4] != 4 || types[discoveryv1.AddressTypeIPv6] != 1 {
		t.Errorf("address types %v", types)
	}
	// publishNotReadyAddresses: always ready.
	svc.Spec.PublishNotReadyAddresses = true
	c.sync(t, svc, pods)
	eps = c.endpoints()
	if !*eps["web-002"].Conditions.Ready || !*eps["web-003"].Conditions.Ready || *eps["web-002"].Conditions.Serving {
		t.Errorf("publishNotReadyAddresses: %+v %+v", eps["web-002"].Conditions, eps["web-003"].Conditions)
	}
}

func TestSplitAndMinimalUpdates(t *testing.T) {
	svc := testService()
	var pods []*corev1.Pod
	for i := 0; i < 250; i++ {
		pods = append(pods, testPod(i, true, 8080))
	}
	c := newCluster()
	c.sync(t, svc, pods)
	var sizes []int
	for _, es := range c.list() {
		sizes = append(sizes, len(es.Endpoints))
	}
	sort.Ints(sizes)
	if fmt.Sprint(sizes) != "[50 100 100]" {
		t.Fatalf("sizes %v", sizes)
	}
	// Nothing changed: nothing written.
	if p := c.sync(t, svc, pods); len(p.create)+len(p.update)+len(p.delete) != 0 {
		t.Fatalf("idle sync writes %+v", p)
	}
	// One pod turns not ready: only its slice is rewritten, in place.
	pods[7] = testPod(7, false, 8080)
	p := c.sync(t, svc, pods)
	if len(p.create) != 0 || len(p.update) != 1 || len(p.delete) != 0 {
		t.Fatalf("readiness change: %d/%d/%d", len(p.create), len(p.update), len(p.delete))
	}
	if *c.endpoints()["web-007"].Conditions.Ready {
		t.Fatal("web-007 still ready")
	}
	// A new pod goes into the slice with room instead of a new slice.
	pods = append(pods, testPod(250, true, 8080))
	p = c.sync(t, svc, pods)
	if len(p.create) != 0 || len(p.update) != 1 || len(p.update[0].Endpoints) != 51 {
		t.Fatalf("add: %d creates, %d updates", len(p.create), len(p.update))
	}
	// Service labels change: every slice is rewritten for its labels.
	svc.Labels = map[string]string{"team": "b"}
	if p = c.sync(t, svc, pods); len(p.update) != 3 {
		t.Fatalf("label change: %d updates", len(p.update))
	}
	// Scale down to 1: one slice stays, the others go.
	p = c.sync(t, svc, pods[:1])
	if len(c.slices) != 1 || len(p.create) != 0 || len(p.delete) != 2 || len(c.endpoints()) != 1 {
		t.Fatalf("scale down: %d slices, plan %d/%d/%d", len(c.slices), len(p.create), len(p.update), len(p.delete))
	}
	// No pods: the slice stays as the empty placeholder (reused, not recreated).
	p = c.sync(t, svc, nil)
	if len(c.slices) != 1 || len(p.create) != 0 || len(c.endpoints()) != 0 {
		t.Fatalf("no pods: %d slices, plan %d/%d/%d", len(c.slices), len(p.create), len(p.update), len(p.delete))
	}
	if p := c.sync(t, svc, nil); len(p.create)+len(p.update)+len(p.delete) != 0 {
		t.Fatalf("idle placeholder sync writes %+v", p)
	}
	// Pods back: the placeholder is reused.
	p = c.sync(t, svc, pods[:3])
	if len(c.slices) != 1 || len(p.create) != 0 || len(c.endpoints()) != 3 {
		t.Fatalf("back: %d slices, plan %d/%d/%d", len(c.slices), len(p.create), len(p.update), len(p.delete))
	}
	// A slice of another Service object of the same name (old UID) is deleted.
	for _, es := range c.slices {
		es.OwnerReferences[0].UID = "old"
	}
	p = c.sync(t, svc, pods[:3])
	if len(p.delete) != 1 || len(p.create) != 1 || len(c.slices) != 1 {
		t.Fatalf("foreign: plan %d/%d/%d", len(p.create), len(p.update), len(p.delete))
	}
}

func TestEndpointsSubsets(t *testing.T) {
	svc := testService()
	now := metav1.Now()
	term := testPod(3, true, 8080)
	term.DeletionTimestamp = &now
	subsets, truncated := desiredSubsets(svc, []*corev1.Pod{testPod(1, true, 8080), testPod(2, false, 8080), term, testPod(4, true, 9090)})
	if truncated || len(subsets) != 2 {
		t.Fatalf("subsets %+v", subsets)
	}
	var s8080 corev1.EndpointSubset
	for _, s := range subsets {
		for _, p := range s.Ports {
			if p.Name == "http" && p.Port == 8080 {
				s8080 = s
			}
		}
	}
	if len(s8080.Addresses) != 1 || s8080.Addresses[0].TargetRef.Name != "web-001" ||
		len(s8080.NotReadyAddresses) != 1 || s8080.NotReadyAddresses[0].TargetRef.Name != "web-002" || len(s8080.Ports) != 2 {
		t.Fatalf("8080 subset %+v", s8080)
	}
	var pods []*corev1.Pod
	for i := 0; i < 1100; i++ {
		pods = append(pods, testPod(i, i%2 == 0, 8080))
	}
	subsets, truncated = desiredSubsets(svc, pods)
	if !truncated || len(subsets) != 1 || len(subsets[0].Addresses) != 550 || len(subsets[0].NotReadyAddresses) != 450 {
		t.Fatalf("truncation: %v, %d subsets", truncated, len(subsets))
	}
}
