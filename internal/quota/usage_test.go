package quota

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func list(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func TestPodUsage(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "a", Resources: corev1.ResourceRequirements{Requests: list("cpu", "100m", "memory", "64Mi"), Limits: list("cpu", "200m")}},
			{Name: "b", Resources: corev1.ResourceRequirements{Requests: list("cpu", "100m", "example.com/gpu", "1")}},
		},
		InitContainers: []corev1.Container{
			{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: list("cpu", "50m")}},
			{Name: "big-init", Resources: corev1.ResourceRequirements{Requests: list("cpu", "1")}},
		},
		Overhead: list("cpu", "10m"),
	}}
	got := Usage(schema.GroupResource{Resource: "pods"}, pod, time.Now())
	// cpu: max(100m+100m+50m, 1+50m) + 10m overhead.
	want := list("pods", "1", "count/pods", "1", "cpu", "1060m", "requests.cpu", "1060m", "limits.cpu", "210m",
		"memory", "64Mi", "requests.memory", "64Mi", "requests.example.com/gpu", "1")
	if !Equal(got, want) {
		t.Fatalf("usage = %s\nwant    %s", String(got), String(want))
	}
	pod.Status.Phase = corev1.PodSucceeded
	if got := Usage(schema.GroupResource{Resource: "pods"}, pod, time.Now()); !Equal(got, list("count/pods", "1")) {
		t.Fatalf("terminal pod usage = %s", String(got))
	}
	pod.Status.Phase = corev1.PodRunning
	grace := int64(30)
	pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &metav1.Time{Time: time.Now().Add(-time.Minute)}, &grace
	if PodCounts(pod, time.Now()) {
		t.Fatal("a pod stuck terminating past its grace period still counts")
	}
}

func TestServiceAndClaimUsage(t *testing.T) {
	no := false
	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: &no,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}, {Port: 81}}}}
	got := Usage(schema.GroupResource{Resource: "services"}, lb, time.Now())
	if want := list("services", "1", "count/services", "1", "services.loadbalancers", "1", "services.nodeports", "1"); !Equal(got, want) {
		t.Fatalf("lb usage = %s", String(got))
	}
	class := "fast"
	pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class,
		Resources: corev1.VolumeResourceRequirements{Requests: list("storage", "1Gi")}}}
	got = Usage(schema.GroupResource{Resource: "persistentvolumeclaims"}, pvc, time.Now())
	want := list("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "1Gi",
		"fast.storageclass.storage.k8s.io/requests.storage", "1Gi", "fast.storageclass.storage.k8s.io/persistentvolumeclaims", "1")
	if !Equal(got, want) {
		t.Fatalf("pvc usage = %s", String(got))
	}
	dep := Usage(schema.GroupResource{Group: "apps", Resource: "deployments"}, &corev1.ConfigMap{}, time.Now())
	if !Equal(dep, list("count/deployments.apps", "1")) {
		t.Fatalf("generic usage = %s", String(dep))
	}
	if gr, ok := ParseObjectCount("count/deployments.apps"); !ok || gr != (schema.GroupResource{Group: "apps", Resource: "deployments"}) {
		t.Fatalf("parse = %v %v", gr, ok)
	}
}

func TestScopes(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	deadline := int64(60)
	q := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating},
		ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
			{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}}}}},
		Status: corev1.ResourceQuotaStatus{Hard: list("pods", "1")}}
	pod := &corev1.Pod{Spec: corev1.PodSpec{ActiveDeadlineSeconds: &deadline, PriorityClassName: "high"}}
	if !Matches(q, pods, pod) {
		t.Fatal("terminating high-priority pod should match")
	}
	pod.Spec.PriorityClassName = "low"
	if Matches(q, pods, pod) {
		t.Fatal("low-priority pod should not match")
	}
	if Matches(q, schema.GroupResource{Resource: "configmaps"}, &corev1.ConfigMap{}) {
		t.Fatal("a scoped quota covers only pods")
	}
	q.Status.Hard = nil
	pod.Spec.PriorityClassName = "high"
	if Matches(q, pods, pod) {
		t.Fatal("a quota without status.hard limits nothing yet")
	}
}
