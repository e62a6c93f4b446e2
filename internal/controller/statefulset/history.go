package statefulset

import (
	"bytes"
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"skiff/internal/controller/controllerutil"
)

// hashLabel is the label upstream puts on ControllerRevisions with their hash.
const hashLabel = "controller.kubernetes.io/hash"

// hashRevision names revision data: FNV-32a over the patch and the collision count, in the alphabet
// upstream uses for such suffixes.
func hashRevision(data []byte, collisionCount int32) string {
	if collisionCount == 0 {
		return controllerutil.Hash(data, nil) // a zero count is not hashed
	}
	return controllerutil.Hash(data, &collisionCount)
}

// newRevision builds the ControllerRevision of the set's current template with number revision: the
// template's labels, the set's annotations, the set as controller.
func newRevision(set *appsv1.StatefulSet, revision int64, collisionCount int32) (*appsv1.ControllerRevision, error) {
	patch, err := controllerutil.RevisionPatch(set)
	if err != nil {
		return nil, err
	}
	hash := hashRevision(patch, collisionCount)
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: controllerutil.RevisionName(set.Name, hash), Namespace: set.Namespace,
			Labels: copyMap(set.Spec.Template.Labels), Annotations: copyMap(set.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, setKind)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	cr.Labels[hashLabel] = hash
	return cr, nil
}

// applyRevision returns the set as of the revision: its template restored from the revision's patch.
func applyRevision(set *appsv1.StatefulSet, cr *appsv1.ControllerRevision) (*appsv1.StatefulSet, error) {
	b, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(b, cr.Data.Raw, &appsv1.StatefulSet{})
	if err != nil {
		return nil, err
	}
	out := &appsv1.StatefulSet{}
	if err := json.Unmarshal(patched, out); err != nil {
		return nil, err
	}
	return out, nil
}

func equalRevision(a, b *appsv1.ControllerRevision) bool {
	return bytes.Equal(a.Data.Raw, b.Data.Raw)
}

// revisionDecision is what the set's history needs for its current template (see decideRevisions).
type revisionDecision struct {
	// existing is the revision holding the template already; renumber, when set, is the number it must
	// take (a rollback to an older revision makes it the newest).
	existing *appsv1.ControllerRevision
	renumber int64
	// create is the revision to create when none holds the template.
	create *appsv1.ControllerRevision
}

// decideRevisions finds the update revision among the set's revisions (sorted) as upstream: the newest
// revision equal to the template is used as it is when it is also the newest revision, renumbered to the
// next number when it is older (a rollback), and a new revision is made when none is equal.
func decideRevisions(set *appsv1.StatefulSet, revisions []*appsv1.ControllerRevision, collisionCount int32) (revisionDecision, error) {
	next := int64(1)
	if len(revisions) > 0 {
		next = revisions[len(revisions)-1].Revision + 1
	}
	candidate, err := newRevision(set, next, collisionCount)
	if err != nil {
		return revisionDecision{}, err
	}
	var equal *appsv1.ControllerRevision
	for _, r := range revisions {
		if equalRevision(r, candidate) {
			equal = r
		}
	}
	switch {
	case equal != nil && equal == revisions[len(revisions)-1]:
		return revisionDecision{existing: equal}, nil
	case equal != nil:
		return revisionDecision{existing: equal, renumber: next}, nil
	}
	return revisionDecision{create: candidate}, nil
}

// historyToDelete picks the revisions beyond revisionHistoryLimit to delete, oldest first, sparing the
// current and update revisions and any revision a pod still runs.
func historyToDelete(set *appsv1.StatefulSet, revisions []*appsv1.ControllerRevision, pods []*corev1.Pod, current, update string) []*appsv1.ControllerRevision {
	live := map[string]bool{current: true, update: true}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	var old []*appsv1.ControllerRevision
	for _, r := range revisions {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	if len(old) <= limit {
		return nil
	}
	controllerutil.SortRevisions(old, true)
	return old[:len(old)-limit]
}
