package deployment

import (
	"encoding/json"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff/internal/controller/controllerutil"
)

// Annotations and labels as upstream names them (kubectl rollout reads them).
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	ChangeCauseAnnotation     = "kubernetes.io/change-cause"
	lastAppliedAnnotation     = "kubectl.kubernetes.io/last-applied-configuration"
)

// templateHash names a pod template (and its ReplicaSet): FNV-32a over the template's JSON and the
// collision count, in the alphabet upstream uses for such suffixes.
func templateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	b, _ := json.Marshal(t)
	return controllerutil.Hash(b, collisionCount) // a zero count is hashed, as upstream's ComputeHash
}

// equalIgnoreHash compares two pod templates, ignoring the pod-template-hash label.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

func revision(rs *appsv1.ReplicaSet) int64 {
	v, _ := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
	return v
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// resolveFenceposts turns maxSurge and maxUnavailable into numbers: surge rounds up, unavailable rounds
// down, and both zero makes unavailable 1, as upstream.
func resolveFenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil {
		return 0, 0
	}
	want := int(replicas(d.Spec.Replicas))
	ru := d.Spec.Strategy.RollingUpdate
	s := intstr.FromString("25%")
	if ru.MaxSurge != nil {
		s = *ru.MaxSurge
	}
	u := intstr.FromString("25%")
	if ru.MaxUnavailable != nil {
		u = *ru.MaxUnavailable
	}
	sv, _ := intstr.GetScaledValueFromIntOrPercent(&s, want, true)
	uv, _ := intstr.GetScaledValueFromIntOrPercent(&u, want, false)
	if sv == 0 && uv == 0 {
		uv = 1
	}
	return int32(sv), int32(uv)
}

func maxUnavailable(d *appsv1.Deployment) int32 {
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || replicas(d.Spec.Replicas) == 0 {
		return 0
	}
	_, u := resolveFenceposts(d)
	return min(u, replicas(d.Spec.Replicas))
}

func sumSpec(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += replicas(rs.Spec.Replicas)
		}
	}
	return n
}

func sumStatus(rss []*appsv1.ReplicaSet, f func(appsv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs.Status)
		}
	}
	return n
}

// byCreation sorts oldest first (name breaks ties).
func byCreation(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		a, b := rss[i], rss[j]
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// setCondition sets the condition of that type as upstream: an existing one with the same status and reason
// stays as it is; with the same status its transition time is kept.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	for i := range st.Conditions {
		old := st.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status && old.Reason == c.Reason {
			return
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		st.Conditions = append(st.Conditions[:i:i], st.Conditions[i+1:]...)
		st.Conditions = append(st.Conditions, c)
		return
	}
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}
