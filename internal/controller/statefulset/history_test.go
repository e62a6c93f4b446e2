package statefulset

import (
	"bytes"
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"skiff/internal/controller/controllerutil"
)

// kubectlPatch computes the patch the way kubectl rollout undo does to compare a set with a revision.
func kubectlPatch(t *testing.T, set *appsv1.StatefulSet) []byte {
	t.Helper()
	b, err := runtime.Encode(scheme.Codecs.LegacyCodec(appsv1.SchemeGroupVersion), set)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	tmpl := raw["spec"].(map[string]any)["template"].(map[string]any)
	tmpl["$patch"] = "replace"
	out, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	return out
}

func TestRevisionPatchMatchesKubectlAndRestores(t *testing.T) {
	set := testSet(3)
	set.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
	patch, err := controllerutil.RevisionPatch(set)
	if err != nil {
		t.Fatal(err)
	}
	if want := kubectlPatch(t, set); !bytes.Equal(patch, want) {
		t.Fatalf("patch differs from kubectl's:\n%s\n%s", patch, want)
	}
	cr, err := newRevision(set, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cr.Labels["app"] != "web" || cr.Labels[hashLabel] == "" || cr.Name != "web-"+cr.Labels[hashLabel] || cr.Revision != 1 ||
		!metav1.IsControlledBy(cr, set) {
		t.Fatalf("revision %+v", cr.ObjectMeta)
	}
	// A later template change is undone by applying the revision (what kubectl rollout undo does).
	changed := set.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Env = nil
	changed.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	changed.Spec.Template.Labels["extra"] = "x"
	restored, err := applyRevision(changed, cr)
	if err != nil {
		t.Fatal(err)
	}
	if restored.Spec.Template.Spec.Containers[0].Image != "busybox" || len(restored.Spec.Template.Spec.Containers[0].Env) != 1 ||
		restored.Spec.Template.Labels["extra"] != "" || *restored.Spec.Replicas != 3 {
		t.Fatalf("restored template %+v", restored.Spec.Template)
	}
	// The name changes with the collision count and the template.
	other, _ := newRevision(set, 1, 1)
	if other.Name == cr.Name {
		t.Fatalf("collision count does not change the name %s", cr.Name)
	}
	c2, _ := newRevision(changed, 2, 0)
	if c2.Name == cr.Name {
		t.Fatalf("template change keeps the name %s", cr.Name)
	}
}

func TestDecideRevisions(t *testing.T) {
	v1 := testSet(3)
	v2 := testSet(3, func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
	r1, _ := newRevision(v1, 1, 0)
	r2, _ := newRevision(v2, 2, 0)

	d, _ := decideRevisions(v1, nil, 0)
	if d.create == nil || d.create.Revision != 1 {
		t.Fatalf("first revision: %+v", d)
	}
	d, _ = decideRevisions(v2, []*appsv1.ControllerRevision{r1}, 0)
	if d.create == nil || d.create.Revision != 2 {
		t.Fatalf("template change: %+v", d)
	}
	d, _ = decideRevisions(v2, []*appsv1.ControllerRevision{r1, r2}, 0)
	if d.existing != r2 || d.renumber != 0 {
		t.Fatalf("unchanged template: %+v", d)
	}
	// Back to v1's template: revision 1 becomes revision 3, as upstream's rollback.
	d, _ = decideRevisions(v1, []*appsv1.ControllerRevision{r1, r2}, 0)
	if d.existing != r1 || d.renumber != 3 {
		t.Fatalf("rollback: %+v", d)
	}
}

func TestHistoryToDelete(t *testing.T) {
	set := testSet(1, func(s *appsv1.StatefulSet) { s.Spec.RevisionHistoryLimit = new(int32(1)) })
	var rs []*appsv1.ControllerRevision
	for i, name := range []string{"web-a", "web-b", "web-c", "web-d", "web-e"} {
		rs = append(rs, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Revision: int64(i + 1)})
	}
	pods := []*corev1.Pod{mkPod(set, 0, "web-b", ready)}
	// Live: web-b (a pod), web-d (current), web-e (update). Of a and c, one is kept: a goes.
	got := historyToDelete(set, rs, pods, "web-d", "web-e")
	if len(got) != 1 || got[0].Name != "web-a" {
		t.Fatalf("deleted %v", got)
	}
}

func TestIdentity(t *testing.T) {
	for name, want := range map[string]int{"web-0": 0, "web-12": 12, "my-web-3": 3, "web": -1, "web-x": -1, "web-": -1} {
		if _, got := parentAndOrdinal(name); got != want {
			t.Errorf("ordinal of %s: %d, want %d", name, got, want)
		}
	}
	set := testSet(3, func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{"tier": "db"}}}}
		s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	})
	p := newPod(set, "web-r1", 2)
	if p.Name != "web-2" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "nginx" || p.Labels[appsv1.StatefulSetPodNameLabel] != "web-2" ||
		p.Labels[appsv1.PodIndexLabel] != "2" || p.Labels[appsv1.ControllerRevisionHashLabelKey] != "web-r1" || p.Labels["app"] != "web" ||
		!metav1.IsControlledBy(p, set) || !isMember(set, p) || !identityMatches(set, p, 2) {
		t.Fatalf("pod %+v", p)
	}
	if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[0].PersistentVolumeClaim == nil || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-2" ||
		p.Spec.Volumes[1].Name != "cfg" {
		t.Fatalf("volumes %+v", p.Spec.Volumes)
	}
	claims := claimsFor(set, 2)
	if len(claims) != 1 || claims[0].Name != "data-web-2" || claims[0].Labels["tier"] != "db" || claims[0].Labels["app"] != "web" {
		t.Fatalf("claims %+v", claims)
	}
	if set.Spec.Template.Labels[appsv1.StatefulSetPodNameLabel] != "" || set.Spec.Template.Spec.Hostname != "" {
		t.Fatalf("newPod changed the template")
	}
	other := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}}
	if isMember(other, p) {
		t.Fatalf("web-2 counted as a member of web-1")
	}
}
