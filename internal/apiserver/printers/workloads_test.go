package printers

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func podSpec(images ...string) corev1.PodTemplateSpec {
	var cs []corev1.Container
	for i, img := range images {
		cs = append(cs, corev1.Container{Name: "c" + itoa(i), Image: img})
	}
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: cs}}
}

var webSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

func TestDeployment(t *testing.T) {
	got := columnNames(Columns(&appsv1.Deployment{}))
	want := []string{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers*", "Images*", "Selector*"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns = %q, want %q", got, want)
	}
	runCellsCases(t, []cellsCase{
		{"rolling out", &appsv1.Deployment{
			ObjectMeta: objectMeta("web"),
			Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: webSelector, Template: podSpec("nginx:1.27", "busybox")},
			Status:     appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2},
		}, []any{"web", "2/3", int64(1), int64(2), "60m", "c0,c1", "nginx:1.27,busybox", "app=web"}},
		{"replicas defaulted, no selector", &appsv1.Deployment{ObjectMeta: objectMeta("bare")},
			[]any{"bare", "0/1", int64(0), int64(0), "60m", "", "", ""}},
		{"invalid selector", &appsv1.Deployment{ObjectMeta: objectMeta("bad"), Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(0)),
			Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}},
		}}, []any{"bad", "0/0", int64(0), int64(0), "60m", "", "", "<invalid>"}},
	})
}

func TestAppsKinds(t *testing.T) {
	runCellsCases(t, []cellsCase{
		{"replicaset", &appsv1.ReplicaSet{ObjectMeta: objectMeta("web-5d"),
			Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(2)), Selector: webSelector, Template: podSpec("nginx")},
			Status: appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1}},
			[]any{"web-5d", int64(2), int64(2), int64(1), "60m", "c0", "nginx", "app=web"}},
		{"statefulset", &appsv1.StatefulSet{ObjectMeta: objectMeta("db"),
			Spec:   appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: podSpec("postgres")},
			Status: appsv1.StatefulSetStatus{ReadyReplicas: 3}},
			[]any{"db", "3/3", "60m", "c0", "postgres"}},
		{"daemonset", &appsv1.DaemonSet{ObjectMeta: objectMeta("agent"),
			Spec: appsv1.DaemonSetSpec{Selector: webSelector, Template: func() corev1.PodTemplateSpec {
				t := podSpec("agent:1")
				t.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
				return t
			}()},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2}},
			[]any{"agent", int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "60m", "c0", "agent:1", "app=web"}},
		{"controller revision", &appsv1.ControllerRevision{ObjectMeta: func() metav1.ObjectMeta {
			m := objectMeta("agent-7c")
			m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", Controller: ptr(true)}}
			return m
		}(), Revision: 4}, []any{"agent-7c", "daemonset.apps/agent", int64(4), "60m"}},
		{"controller revision without owner", &appsv1.ControllerRevision{ObjectMeta: objectMeta("lone"), Revision: 1},
			[]any{"lone", "<none>", int64(1), "60m"}},
	})
}

func TestJob(t *testing.T) {
	got := columnNames(Columns(&batchv1.Job{}))
	want := []string{"Name", "Status", "Completions", "Duration", "Age", "Containers*", "Images*", "Selector*"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns = %q, want %q", got, want)
	}
	cond := func(ty batchv1.JobConditionType) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: ty, Status: corev1.ConditionTrue}}
	}
	job := func(name string, completions, parallelism *int32, status batchv1.JobStatus) *batchv1.Job {
		return &batchv1.Job{
			ObjectMeta: objectMeta(name),
			Spec: batchv1.JobSpec{Completions: completions, Parallelism: parallelism,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/job-name": name}},
				Template: podSpec("perl")},
			Status: status,
		}
	}
	terminating := job("t", ptr(int32(1)), nil, batchv1.JobStatus{StartTime: agoPtr(time.Minute), Conditions: cond(batchv1.JobSuspended)})
	terminating.DeletionTimestamp = agoPtr(time.Second)
	tail := func(name string) []any { return []any{"60m", "c0", "perl", "batch.kubernetes.io/job-name=" + name} }
	row := func(name, status, completions, took string) []any {
		return append([]any{name, status, completions, took}, tail(name)...)
	}
	runCellsCases(t, []cellsCase{
		{"complete", job("pi", ptr(int32(1)), nil, batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(50 * time.Minute),
			CompletionTime: agoPtr(50*time.Minute - 7*time.Second), Conditions: cond(batchv1.JobComplete)}),
			row("pi", "Complete", "1/1", "7s")},
		{"running, duration until now", job("r", ptr(int32(5)), ptr(int32(2)), batchv1.JobStatus{Succeeded: 2, StartTime: agoPtr(3 * time.Minute)}),
			row("r", "Running", "2/5", "3m")},
		{"work queue with parallelism", job("q", nil, ptr(int32(3)), batchv1.JobStatus{}), row("q", "Running", "0/1 of 3", "")},
		{"no completions, no parallelism", job("s", nil, nil, batchv1.JobStatus{}), row("s", "Running", "0/1", "")},
		{"failed", job("f", ptr(int32(1)), nil, batchv1.JobStatus{StartTime: agoPtr(10 * time.Minute), Conditions: cond(batchv1.JobFailed)}),
			row("f", "Failed", "0/1", "10m")},
		{"failure target before failed", job("ft", ptr(int32(1)), nil, batchv1.JobStatus{Conditions: cond(batchv1.JobFailureTarget)}),
			row("ft", "FailureTarget", "0/1", "")},
		{"suspended", job("su", ptr(int32(1)), nil, batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended)}), row("su", "Suspended", "0/1", "")},
		{"terminating beats suspended", terminating, row("t", "Terminating", "0/1", "60s")},
	})
}

func TestCronJob(t *testing.T) {
	cj := &batchv1.CronJob{
		ObjectMeta: objectMeta("backup"),
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", Suspend: ptr(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podSpec("backup:2")}}},
		Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "backup-1"}}, LastScheduleTime: agoPtr(2 * time.Minute)},
	}
	tz := &batchv1.CronJob{ObjectMeta: objectMeta("nightly"), Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", TimeZone: ptr("Europe/Berlin")}}
	runCellsCases(t, []cellsCase{
		{"active", cj, []any{"backup", "*/5 * * * *", "<none>", "False", int64(1), "2m", "60m", "c0", "backup:2", "<none>"}},
		{"never scheduled, suspend unset", tz, []any{"nightly", "0 3 * * *", "Europe/Berlin", "<unset>", int64(0), "<none>", "60m", "", "", "<none>"}},
	})
}

func TestOtherKinds(t *testing.T) {
	runCellsCases(t, []cellsCase{
		{"hpa v2", &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: objectMeta("web"),
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
				MinReplicas:    ptr(int32(2)), MaxReplicas: 10,
				Metrics: []autoscalingv2.MetricSpec{
					{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(80))}}},
					{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(resource.MustParse("1Gi"))}}},
					{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
						Target: autoscalingv2.MetricTarget{AverageValue: ptr(resource.MustParse("100"))}}},
				},
			},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, CurrentMetrics: []autoscalingv2.MetricStatus{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU,
					Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr(int32(12))}}},
			}},
		}, []any{"web", "Deployment/web", "cpu: 12%/80%, memory: <unknown>/1Gi + 1 more...", "2", int64(10), int64(3), "60m"}},
		{"hpa v1", &autoscalingv1.HorizontalPodAutoscaler{
			ObjectMeta: objectMeta("web"),
			Spec: autoscalingv1.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
				MaxReplicas: 5, TargetCPUUtilizationPercentage: ptr(int32(50))},
		}, []any{"web", "Deployment/web", "cpu: <unknown>/50%", "<unset>", int64(5), int64(0), "60m"}},
		{"pdb", &policyv1.PodDisruptionBudget{ObjectMeta: objectMeta("web"),
			Spec:   policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromString("50%"))},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}},
			[]any{"web", "50%", "N/A", int64(1), "60m"}},
		{"ingress", &networkingv1.Ingress{ObjectMeta: objectMeta("web"),
			Spec: networkingv1.IngressSpec{IngressClassName: ptr("nginx"), TLS: []networkingv1.IngressTLS{{}},
				Rules: []networkingv1.IngressRule{{Host: "a.example"}, {}, {Host: "b.example"}, {Host: "c.example"}, {Host: "d.example"}}},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.5"}}}}},
			[]any{"web", "nginx", "a.example,b.example,c.example + 2 more...", "203.0.113.5", "80, 443", "60m"}},
		{"ingress without hosts", &networkingv1.Ingress{ObjectMeta: objectMeta("any")},
			[]any{"any", "<none>", "*", "", "80", "60m"}},
		{"rolebinding", &rbacv1.RoleBinding{ObjectMeta: objectMeta("rb"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "Group", Name: "devs"}, {Kind: "ServiceAccount", Namespace: "ci", Name: "bot"}, {Kind: "User", Name: "bob"}}},
			[]any{"rb", "ClusterRole/view", "60m", "alice, bob", "devs", "ci/bot"}},
	})
}
