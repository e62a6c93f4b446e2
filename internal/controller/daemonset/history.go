package daemonset

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
)

// revisionPatch is what a ControllerRevision of the DaemonSet holds: a strategic merge patch replacing
// spec.template, exactly as kubectl computes it (kubectl rollout undo applies it and compares it byte for
// byte).
func revisionPatch(ds *appsv1.DaemonSet) ([]byte, error) {
	b, err := json.Marshal(ds)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	spec, _ := raw["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		tmpl = map[string]any{}
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// templateHash names a template: FNV-32a over its JSON and the collision count, in the alphabet upstream
// uses for such suffixes. It is the pods' controller-revision-hash and the revision's name suffix.
func templateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, _ := json.Marshal(t)
	h.Write(b)
	if collisionCount != nil && *collisionCount != 0 {
		fmt.Fprintf(h, "%d", *collisionCount)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// newRevision is the ControllerRevision of the DaemonSet's template with number revision.
func newRevision(ds *appsv1.DaemonSet, revision int64) (*appsv1.ControllerRevision, error) {
	patch, err := revisionPatch(ds)
	if err != nil {
		return nil, err
	}
	hash := templateHash(&ds.Spec.Template, ds.Status.CollisionCount)
	name := ds.Name
	if len(name) > 223 {
		name = name[:223]
	}
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: name + "-" + hash, Namespace: ds.Namespace,
			Labels: copyMap(ds.Spec.Template.Labels), Annotations: copyMap(ds.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, dsKind)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	cr.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	return cr, nil
}

func sortRevisions(rs []*appsv1.ControllerRevision) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Revision != rs[j].Revision {
			return rs[i].Revision < rs[j].Revision
		}
		return rs[i].Name < rs[j].Name
	})
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
	sortRevisions(sorted)
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
