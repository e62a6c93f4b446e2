package defaults

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func tmpl() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{ctr("c", "nginx:1")}},
	}
}

func checkTemplateDefaulted(t *testing.T, tp corev1.PodTemplateSpec) {
	t.Helper()
	if tp.Spec.RestartPolicy == "" || tp.Spec.DNSPolicy == "" || tp.Spec.Containers[0].ImagePullPolicy == "" {
		t.Errorf("pod template not defaulted: %+v", tp.Spec)
	}
}

func TestDeploymentDefaults(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: tmpl()}}
	Default(d)
	s := d.Spec
	if *s.Replicas != 1 || *s.RevisionHistoryLimit != 10 || *s.ProgressDeadlineSeconds != 600 {
		t.Errorf("deployment ints = %d %d %d", *s.Replicas, *s.RevisionHistoryLimit, *s.ProgressDeadlineSeconds)
	}
	if s.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		*s.Strategy.RollingUpdate.MaxSurge != intstr.FromString("25%") ||
		*s.Strategy.RollingUpdate.MaxUnavailable != intstr.FromString("25%") {
		t.Errorf("strategy = %+v", s.Strategy)
	}
	if s.Selector != nil {
		t.Errorf("apps/v1 must not default the selector")
	}
	checkTemplateDefaulted(t, s.Template)

	re := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	Default(re)
	if re.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate got rollingUpdate")
	}
}

func TestStatefulSetDefaults(t *testing.T) {
	ss := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
		Template:             tmpl(),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
	}}
	Default(ss)
	s := ss.Spec
	if *s.Replicas != 1 || *s.RevisionHistoryLimit != 10 || s.PodManagementPolicy != appsv1.OrderedReadyPodManagement {
		t.Errorf("statefulset = %+v", s)
	}
	if s.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || *s.UpdateStrategy.RollingUpdate.Partition != 0 {
		t.Errorf("updateStrategy = %+v", s.UpdateStrategy)
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType || p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("retention = %+v", p)
	}
	if *s.VolumeClaimTemplates[0].Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("volumeClaimTemplate not defaulted")
	}
	checkTemplateDefaulted(t, s.Template)
}

func TestDaemonSetAndReplicaSetDefaults(t *testing.T) {
	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: tmpl()}}
	Default(ds)
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || *ru.MaxUnavailable != intstr.FromInt32(1) || *ru.MaxSurge != intstr.FromInt32(0) {
		t.Errorf("daemonset strategy = %+v", ds.Spec.UpdateStrategy)
	}
	if *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("revisionHistoryLimit = %d", *ds.Spec.RevisionHistoryLimit)
	}
	checkTemplateDefaulted(t, ds.Spec.Template)

	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: tmpl()}}
	Default(rs)
	if *rs.Spec.Replicas != 1 {
		t.Errorf("replicaset replicas = %d", *rs.Spec.Replicas)
	}
	checkTemplateDefaulted(t, rs.Spec.Template)
}

func TestJobDefaults(t *testing.T) {
	cases := []struct {
		name                          string
		spec                          batchv1.JobSpec
		completions, parallelism, bol *int32
		replacement                   batchv1.PodReplacementPolicy
	}{
		{"both unset", batchv1.JobSpec{}, int32Ptr(1), int32Ptr(1), int32Ptr(6), batchv1.TerminatingOrFailed},
		{"completions only", batchv1.JobSpec{Completions: int32Ptr(5)}, int32Ptr(5), int32Ptr(1), int32Ptr(6), batchv1.TerminatingOrFailed},
		{"parallelism only", batchv1.JobSpec{Parallelism: int32Ptr(3)}, nil, int32Ptr(3), int32Ptr(6), batchv1.TerminatingOrFailed},
		{"per-index backoff", batchv1.JobSpec{BackoffLimitPerIndex: int32Ptr(1)}, int32Ptr(1), int32Ptr(1), int32Ptr(2147483647), batchv1.TerminatingOrFailed},
		{"failure policy", batchv1.JobSpec{PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
		}}}}, int32Ptr(1), int32Ptr(1), int32Ptr(6), batchv1.Failed},
	}
	eq := func(a, b *int32) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := &batchv1.Job{Spec: c.spec}
			j.Spec.Template = tmpl()
			Default(j)
			s := j.Spec
			if !eq(s.Completions, c.completions) || !eq(s.Parallelism, c.parallelism) || !eq(s.BackoffLimit, c.bol) {
				t.Errorf("completions/parallelism/backoffLimit = %v/%v/%v", s.Completions, s.Parallelism, *s.BackoffLimit)
			}
			if *s.PodReplacementPolicy != c.replacement {
				t.Errorf("podReplacementPolicy = %s", *s.PodReplacementPolicy)
			}
			if *s.CompletionMode != batchv1.NonIndexedCompletion || *s.Suspend || *s.ManualSelector {
				t.Errorf("completionMode/suspend/manualSelector wrong")
			}
			if j.Labels["app"] != "a" {
				t.Errorf("job labels not copied from template: %v", j.Labels)
			}
			if s.PodFailurePolicy != nil && s.PodFailurePolicy.Rules[0].OnPodConditions[0].Status != corev1.ConditionTrue {
				t.Errorf("onPodConditions status not defaulted")
			}
		})
	}
}

func TestJobSelector(t *testing.T) {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: types.UID("u1")}, Spec: batchv1.JobSpec{Template: tmpl()}}
	JobSelector(j)
	l := j.Spec.Template.Labels
	if l["job-name"] != "pi" || l[batchv1.JobNameLabel] != "pi" || l["controller-uid"] != "u1" || l[batchv1.ControllerUidLabel] != "u1" || l["app"] != "a" {
		t.Errorf("template labels = %v", l)
	}
	if j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] != "u1" || len(j.Spec.Selector.MatchLabels) != 1 {
		t.Errorf("selector = %v", j.Spec.Selector)
	}

	manual := &batchv1.Job{Spec: batchv1.JobSpec{ManualSelector: boolPtr(true)}}
	JobSelector(manual)
	if manual.Spec.Selector != nil {
		t.Errorf("manual selector was generated")
	}
}

func TestCronJobDefaults(t *testing.T) {
	c := &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl()}}}}
	Default(c)
	s := c.Spec
	if s.ConcurrencyPolicy != batchv1.AllowConcurrent || *s.Suspend || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 1 {
		t.Errorf("cronjob = %+v", s)
	}
	// Like upstream, the Job-level defaults do not reach the template.
	if s.JobTemplate.Spec.BackoffLimit != nil {
		t.Errorf("job template got backoffLimit")
	}
	checkTemplateDefaulted(t, s.JobTemplate.Spec.Template)
}
