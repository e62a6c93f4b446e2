package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.25"}}},
	}
}

func selector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func deployment(mut ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       appsv1.DeploymentSpec{Selector: selector(), Template: template()},
	}
	for _, m := range mut {
		m(d)
	}
	return d
}

func TestValidateDeployment(t *testing.T) {
	neg := int32(-1)
	cases := []struct {
		name string
		d    *appsv1.Deployment
		want []wantErr
	}{
		{"valid", deployment(), nil},
		{"selector required", deployment(func(d *appsv1.Deployment) { d.Spec.Selector = nil }), []wantErr{{req, "spec.selector", ""}}},
		{"empty selector", deployment(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }),
			[]wantErr{{inv, "spec.selector", "empty selector is invalid for deployment"}}},
		{"selector mismatch", deployment(func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} }),
			[]wantErr{{inv, "spec.template.metadata.labels", "`selector` does not match template `labels`"}}},
		{"negative replicas", deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = &neg }),
			[]wantErr{{inv, "spec.replicas", "must be greater than or equal to 0"}}},
		{"restartPolicy", deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			[]wantErr{{unsup, "spec.template.spec.restartPolicy", `"Always"`}}},
		{"template container", deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }),
			[]wantErr{{req, "spec.template.spec.containers[0].image", ""}}},
		{"template label value", deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Labels["bad"] = "a b"
		}), []wantErr{{inv, "spec.template.labels", ""}}},
		{"strategy type", deployment(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }),
			[]wantErr{{unsup, "spec.strategy", `"Recreate", "RollingUpdate"`}}},
		{"recreate with rollingUpdate", deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}), []wantErr{{forb, "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"}}},
		{"both zero", deployment(func(d *appsv1.Deployment) {
			z := intstr.FromInt32(0)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &z, MaxUnavailable: &z}
		}), []wantErr{{inv, "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"}}},
		{"over 100 percent", deployment(func(d *appsv1.Deployment) {
			v := intstr.FromString("150%")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: &v}
		}), []wantErr{{inv, "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%"}}},
		{"progress deadline", deployment(func(d *appsv1.Deployment) {
			p := int32(10)
			d.Spec.ProgressDeadlineSeconds = &p
			d.Spec.MinReadySeconds = 10
		}), []wantErr{{inv, "spec.progressDeadlineSeconds", "must be greater than minReadySeconds"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.d, nil, c.want...) })
	}
}

func TestValidateDeploymentUpdate(t *testing.T) {
	old := deployment()
	scaled := deployment(func(d *appsv1.Deployment) { r := int32(5); d.Spec.Replicas = &r })
	check(t, scaled, old)

	changed := deployment(func(d *appsv1.Deployment) {
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "fe"}}
		d.Spec.Template.Labels["tier"] = "fe"
	})
	check(t, changed, deployment(), wantErr{inv, "spec.selector", "field is immutable"})
}

func TestValidateReplicaSetAndDaemonSet(t *testing.T) {
	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Selector: selector(), Template: template()}}
	check(t, rs, nil)
	bad := rs.DeepCopy()
	bad.Spec.Selector = nil
	check(t, bad, nil, wantErr{req, "spec.selector", ""})

	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Selector: selector(), Template: template()}}
	check(t, ds, nil)
	empty := ds.DeepCopy()
	empty.Spec.Selector = &metav1.LabelSelector{}
	check(t, empty, nil, wantErr{inv, "spec.selector", "empty selector is invalid for daemonset"})
	both := ds.DeepCopy()
	one := intstr.FromInt32(1)
	both.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one, MaxSurge: &one}}
	check(t, both, nil, wantErr{inv, "spec.updateStrategy.rollingUpdate.maxSurge", "may not be set when maxUnavailable is non-zero"})
	strategy := ds.DeepCopy()
	strategy.Spec.UpdateStrategy.Type = "Sometimes"
	check(t, strategy, nil, wantErr{unsup, "spec.updateStrategy", ""})

	moved := ds.DeepCopy()
	moved.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "x": "y"}}
	moved.Spec.Template.Labels["x"] = "y"
	check(t, moved, ds.DeepCopy(), wantErr{inv, "spec.selector", "field is immutable"})
}

func TestValidateStatefulSet(t *testing.T) {
	ss := func() *appsv1.StatefulSet {
		return &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Selector: selector(), Template: template(), ServiceName: "web"}}
	}
	check(t, ss(), nil)

	bad := ss()
	bad.Spec.PodManagementPolicy = "Random"
	check(t, bad, nil, wantErr{inv, "spec.podManagementPolicy", "must be 'OrderedReady' or 'Parallel'"})

	onDelete := ss()
	onDelete.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{}}
	check(t, onDelete, nil, wantErr{inv, "spec.updateStrategy.rollingUpdate", "only allowed for updateStrategy 'RollingUpdate'"})

	mismatch := ss()
	mismatch.Spec.Template.Labels = map[string]string{"app": "db"}
	check(t, mismatch, nil, wantErr{inv, "spec.template.metadata.labels", "`selector` does not match template `labels`"})

	old := ss()
	changed := ss()
	changed.Spec.ServiceName = "other"
	check(t, changed, old, wantErr{forb, "spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"})
	scaled := ss()
	r := int32(3)
	scaled.Spec.Replicas = &r
	scaled.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	check(t, scaled, ss())
}
