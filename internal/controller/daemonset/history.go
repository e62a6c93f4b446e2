package daemonset

import (
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/controller/controllerutil"
)

// templateHash names a template: FNV-32a over its JSON and the collision count, in the alphabet upstream
// uses for such suffixes. It is the pods' controller-revision-hash and the revision's name suffix.
func templateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	b, _ := json.Marshal(t)
	if collisionCount != nil && *collisionCount == 0 {
		collisionCount = nil // a zero count is not hashed
	}
	return controllerutil.Hash(b, collisionCount)
}

// newRevision is the ControllerRevision of the DaemonSet's template with number revision.
func newRevision(ds *appsv1.DaemonSet, revision int64) (*appsv1.ControllerRevision, error) {
	patch, err := controllerutil.RevisionPatch(ds)
	if err != nil {
		return nil, err
	}
	hash := templateHash(&ds.Spec.Template, ds.Status.CollisionCount)
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: controllerutil.RevisionName(ds.Name, hash), Namespace: ds.Namespace,
			Labels: copyMap(ds.Spec.Template.Labels), Annotations: copyMap(ds.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, dsKind)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	cr.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	return cr, nil
}

// historyToDelete picks the outdated revisions beyond revisionHistoryLimit, oldest first, sparing those
// whose hash a pod still carries.
func historyToDelete(ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision, pods []*corev1.Pod) []*appsv1.ControllerRevision {
	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	excess := len(old) - limit
	if excess <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
			live[h] = true
		}
	}
	sorted := append([]*appsv1.ControllerRevision(nil), old...)
	controllerutil.SortRevisions(sorted, false)
	var out []*appsv1.ControllerRevision
	for _, r := range sorted {
		if len(out) == excess {
			break
		}
		if !live[r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] {
			out = append(out, r)
		}
	}
	return out
}
