package controllerutil

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// RevisionPatch is what a ControllerRevision of a DaemonSet or StatefulSet (obj) holds: a strategic merge
// patch replacing spec.template, exactly as kubectl computes it (kubectl rollout undo applies it and
// compares it byte for byte to tell whether the object already has that template).
func RevisionPatch(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
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

// Hash is FNV-32a over data and then, when collisionCount is not nil, the count in decimal, in the
// alphabet upstream uses for name suffixes (pod-template-hash, controller-revision-hash).
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		fmt.Fprintf(h, "%d", *collisionCount)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// RevisionName is <prefix>-<hash>, the prefix cut so the name stays a valid object name.
func RevisionName(prefix, hash string) string {
	if len(prefix) > 223 {
		prefix = prefix[:223]
	}
	return prefix + "-" + hash
}

// SortRevisions orders by revision number, then (with byCreation) creation time, then name.
func SortRevisions(rs []*appsv1.ControllerRevision, byCreation bool) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if byCreation && !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}
