package daemonset

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff/internal/controller/controllerutil"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testDS(mutate ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid", Generation: 2},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(1)), MaxSurge: new(intstr.FromInt32(0))}},
		},
	}
	for _, m := range mutate {
		m(ds)
	}
	return ds
}

func node(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func taint(key string, effect corev1.TaintEffect) corev1.Taint {
	return corev1.Taint{Key: key, Value: "x", Effect: effect}
}

func TestShouldRun(t *testing.T) {
	plain := testDS()
	selecting := testDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} })
	affine := testDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}}}}}
	})
	tolerant := testDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	})
	hostNet := testDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true })
	pinned := testDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeName = "n2" })
	cases := []struct {
		name      string
		ds        *appsv1.DaemonSet
		node      *corev1.Node
		run, keep bool
	}{
		{"plain node", plain, node("n1", nil), true, true},
		{"nodeSelector matches", selecting, node("n1", map[string]string{"disk": "ssd"}), true, true},
		{"nodeSelector does not match", selecting, node("n1", map[string]string{"disk": "hdd"}), false, false},
		{"required affinity matches", affine, node("n1", map[string]string{"zone": "b"}), true, true},
		{"required affinity does not match", affine, node("n1", map[string]string{"zone": "c"}), false, false},
		{"untolerated NoSchedule: keep but no new pod", plain, node("n1", nil, taint("dedicated", corev1.TaintEffectNoSchedule)), false, true},
		{"untolerated NoExecute: none", plain, node("n1", nil, taint("dedicated", corev1.TaintEffectNoExecute)), false, false},
		{"PreferNoSchedule does not count", plain, node("n1", nil, taint("dedicated", corev1.TaintEffectPreferNoSchedule)), true, true},
		{"tolerated taint", tolerant, node("n1", nil, taint("dedicated", corev1.TaintEffectNoExecute)), true, true},
		{"cordoned node (automatic toleration)", plain, node("n1", nil, taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), true, true},
		{"memory pressure (automatic toleration)", plain, node("n1", nil, taint(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"disk pressure (automatic toleration)", plain, node("n1", nil, taint(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"pid pressure (automatic toleration)", plain, node("n1", nil, taint(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"unreachable NoExecute (automatic toleration)", plain, node("n1", nil, taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)), true, true},
		{"not-ready NoExecute (automatic toleration)", plain, node("n1", nil, taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)), true, true},
		{"unreachable NoSchedule is not tolerated", plain, node("n1", nil, taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)), false, true},
		{"network-unavailable: not for pod-network pods", plain, node("n1", nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), false, true},
		{"network-unavailable: tolerated with hostNetwork", hostNet, node("n1", nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), true, true},
		{"template nodeName elsewhere", pinned, node("n1", nil), false, false},
		{"template nodeName here", pinned, node("n2", nil), true, true},
	}
	for _, tc := range cases {
		if run, keep := shouldRun(tc.ds, tc.node); run != tc.run || keep != tc.keep {
			t.Errorf("%s: run %v keep %v, want %v %v", tc.name, run, keep, tc.run, tc.keep)
		}
	}
}

func TestNewPod(t *testing.T) {
	ds := testDS(func(ds *appsv1.DaemonSet) {
		ds.Annotations = map[string]string{templateGenerationAnnotation: "4"}
		ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
			{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "x", Effect: corev1.TaintEffectNoSchedule}}
		ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1}}}}
	})
	p := newPod(ds, "n7", "h1")
	if p.GenerateName != "agent-" || p.Labels["app"] != "agent" || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "h1" ||
		p.Labels[templateGenerationLabel] != "4" || !metav1.IsControlledBy(p, ds) || p.Spec.NodeName != "" {
		t.Fatalf("pod meta %+v", p.ObjectMeta)
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 || len(terms[0].MatchFields) != 1 || terms[0].MatchFields[0].Key != "metadata.name" ||
		terms[0].MatchFields[0].Values[0] != "n7" || len(p.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("affinity %+v", p.Spec.Affinity.NodeAffinity)
	}
	if targetNode(p) != "n7" {
		t.Fatalf("target node %q", targetNode(p))
	}
	var got []string
	for _, tol := range p.Spec.Tolerations {
		s := fmt.Sprintf("%s:%s", tol.Key, tol.Effect)
		if tol.TolerationSeconds != nil {
			s += fmt.Sprintf("(%ds)", *tol.TolerationSeconds)
		}
		got = append(got, s)
	}
	want := "node.kubernetes.io/not-ready:NoExecute dedicated:NoSchedule node.kubernetes.io/unreachable:NoExecute node.kubernetes.io/disk-pressure:NoSchedule " +
		"node.kubernetes.io/memory-pressure:NoSchedule node.kubernetes.io/pid-pressure:NoSchedule node.kubernetes.io/unschedulable:NoSchedule"
	if strings.Join(got, " ") != want {
		t.Fatalf("tolerations\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if len(ds.Spec.Template.Spec.Tolerations) != 2 || ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields != nil {
		t.Fatalf("newPod changed the template")
	}
	p.Spec.NodeName = "n9"
	if targetNode(p) != "n9" {
		t.Fatalf("bound pod's target %q", targetNode(p))
	}
}

type state int

const (
	pending state = iota
	readyOld
	readyNew // ready for a moment only (not available with minReadySeconds)
	failed
	succeeded
	deleting
)

var seq int

func dpod(hash string, s state, age time.Duration) *corev1.Pod {
	seq++
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", seq), UID: types.UID(fmt.Sprintf("u%d", seq)),
		Labels: map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: hash}, CreationTimestamp: metav1.NewTime(now.Add(-age))},
		Spec: corev1.PodSpec{NodeName: "n"}}
	switch s {
	case pending:
		p.Status.Phase = corev1.PodPending
	case readyOld, readyNew, deleting:
		p.Status.Phase = corev1.PodRunning
		since := now.Add(-time.Hour)
		if s == readyNew {
			since = now
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)}}
		if s == deleting {
			p.DeletionTimestamp = &metav1.Time{Time: now}
		}
	case failed:
		p.Status.Phase = corev1.PodFailed
	case succeeded:
		p.Status.Phase = corev1.PodSucceeded
	}
	return p
}

func names(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

func TestManageNode(t *testing.T) {
	allow := func(*corev1.Pod) bool { return true }
	deny := func(*corev1.Pod) bool { return false }

	if act := manageNode(true, true, nil, "h", false, 0, now, allow); !act.create || len(act.delete) != 0 {
		t.Fatalf("empty eligible node: %+v", act)
	}
	if act := manageNode(false, true, nil, "h", false, 0, now, allow); act.create {
		t.Fatalf("a NoSchedule-tainted node got a pod")
	}
	old, young := dpod("h", readyOld, time.Hour), dpod("h", readyOld, time.Minute)
	if act := manageNode(true, true, []*corev1.Pod{young, old}, "h", false, 0, now, allow); act.create || names(act.delete) != young.Name {
		t.Fatalf("two pods: delete %s, want the younger %s", names(act.delete), young.Name)
	}
	f := dpod("h", failed, time.Minute)
	if act := manageNode(true, true, []*corev1.Pod{f}, "h", false, 0, now, allow); !act.create || names(act.delete) != f.Name || len(act.failed) != 1 {
		t.Fatalf("failed pod: %+v", act)
	}
	if act := manageNode(true, true, []*corev1.Pod{f}, "h", false, 0, now, deny); act.create || len(act.delete) != 0 || !act.backoff {
		t.Fatalf("failed pod in back-off: %+v", act)
	}
	s := dpod("h", succeeded, time.Minute)
	if act := manageNode(true, true, []*corev1.Pod{s, old}, "h", false, 0, now, allow); act.create || names(act.delete) != s.Name || len(act.succeeded) != 1 {
		t.Fatalf("succeeded pod: %+v", act)
	}
	d := dpod("h", deleting, time.Minute)
	if act := manageNode(true, true, []*corev1.Pod{d}, "h", false, 0, now, allow); !act.create || len(act.delete) != 0 {
		t.Fatalf("only a terminating pod: %+v", act)
	}
	if act := manageNode(false, false, []*corev1.Pod{old, d}, "h", false, 0, now, allow); act.create || names(act.delete) != old.Name {
		t.Fatalf("node no longer eligible: %+v", act)
	}
	// Surge: the outdated pod stays while the updated one is not yet available.
	outdated, fresh := dpod("old", readyOld, time.Hour), dpod("h", readyNew, time.Second)
	if act := manageNode(true, true, []*corev1.Pod{outdated, fresh}, "h", true, 30, now, allow); len(act.delete) != 0 {
		t.Fatalf("surge, new pod not available: deletes %s", names(act.delete))
	}
	if act := manageNode(true, true, []*corev1.Pod{outdated, fresh}, "h", true, 0, now, allow); names(act.delete) != outdated.Name {
		t.Fatalf("surge, new pod available: deletes %s", names(act.delete))
	}
}

func TestRollingUpdate(t *testing.T) {
	all := map[string]bool{"a": true, "b": true, "c": true}
	nodes := func(pods ...*corev1.Pod) map[string][]*corev1.Pod {
		m := map[string][]*corev1.Pod{}
		for i, p := range pods {
			n := string(rune('a' + i))
			m[n] = nil
			if p != nil {
				m[n] = []*corev1.Pod{p}
			}
		}
		return m
	}
	a, b, c := dpod("old", readyOld, time.Hour), dpod("old", readyOld, time.Hour), dpod("old", readyOld, time.Hour)
	del, create := rollingUpdate(nodes(a, b, c), all, "h", 0, 1, 0, now)
	if names(del) != a.Name || len(create) != 0 {
		t.Fatalf("maxUnavailable 1: delete %s create %v", names(del), create)
	}
	del, _ = rollingUpdate(nodes(a, b, c), all, "h", 0, 2, 0, now)
	if names(del) != a.Name+","+b.Name {
		t.Fatalf("maxUnavailable 2: delete %s", names(del))
	}
	// A node being replaced (no pod yet) uses up the budget.
	if del, _ = rollingUpdate(nodes(nil, b, c), all, "h", 0, 1, 0, now); len(del) != 0 {
		t.Fatalf("budget used: delete %s", names(del))
	}
	// An updated pod not yet available too.
	if del, _ = rollingUpdate(nodes(dpod("h", pending, 0), b, c), all, "h", 0, 1, 0, now); len(del) != 0 {
		t.Fatalf("new pod pending: delete %s", names(del))
	}
	// An unavailable outdated pod is replaced regardless.
	broken := dpod("old", pending, time.Hour)
	if del, _ = rollingUpdate(nodes(dpod("h", pending, 0), broken, c), all, "h", 0, 1, 0, now); names(del) != broken.Name {
		t.Fatalf("unavailable old pod: delete %s", names(del))
	}
	// Surge 1: a new pod next to one old pod; then the old one goes once the new is available.
	del, create = rollingUpdate(nodes(a, b, c), all, "h", 1, 0, 0, now)
	if len(del) != 0 || strings.Join(create, ",") != "a" {
		t.Fatalf("surge: delete %s create %v", names(del), create)
	}
	surging := map[string][]*corev1.Pod{"a": {a, dpod("h", pending, 0)}, "b": {b}, "c": {c}}
	if del, create = rollingUpdate(surging, all, "h", 1, 0, 0, now); len(del) != 0 || len(create) != 0 {
		t.Fatalf("surge in flight: delete %s create %v", names(del), create)
	}
	surged := map[string][]*corev1.Pod{"a": {a, dpod("h", readyOld, 0)}, "b": {b}, "c": {c}}
	if del, create = rollingUpdate(surged, all, "h", 1, 0, 0, now); names(del) != a.Name || strings.Join(create, ",") != "b" {
		t.Fatalf("surge done on a: delete %s create %v", names(del), create)
	}
}

func TestFencepostsAndStatus(t *testing.T) {
	pct := testDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromString("10%"))
	})
	if s, u := fenceposts(pct, 15); s != 0 || u != 2 {
		t.Fatalf("10%% of 15: surge %d unavailable %d (rounds up)", s, u)
	}
	zero := testDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(0))
	})
	if s, u := fenceposts(zero, 3); s != 0 || u != 1 {
		t.Fatalf("both zero: %d %d", s, u)
	}
	surge := testDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(0)), MaxSurge: new(intstr.FromString("20%"))}
	})
	if !allowsSurge(surge) || allowsSurge(pct) {
		t.Fatalf("allowsSurge")
	}

	ds := testDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"run": "yes"}
		ds.Spec.MinReadySeconds = 60
	})
	yes := map[string]string{"run": "yes"}
	nodes := []*corev1.Node{node("a", yes), node("b", yes), node("c", yes), node("d", nil), node("e", yes)}
	byNode := map[string][]*corev1.Pod{
		"a": {dpod("h", readyOld, time.Hour)},                        // ready, available, updated
		"b": {dpod("old", readyNew, time.Hour)},                      // ready, not yet available, outdated
		"c": {dpod("h", pending, time.Hour), dpod("h", readyOld, 0)}, // the older pod counts: not ready
		"d": {dpod("h", readyOld, time.Hour)},                        // misscheduled
	}
	st, recheck := computeStatus(ds, nodes, byNode, "h", true, now)
	if st.DesiredNumberScheduled != 4 || st.CurrentNumberScheduled != 3 || st.NumberReady != 2 || st.NumberAvailable != 1 ||
		st.UpdatedNumberScheduled != 2 || st.NumberMisscheduled != 1 || st.NumberUnavailable != 3 || st.ObservedGeneration != 2 {
		t.Fatalf("status %+v", st)
	}
	if recheck != time.Minute {
		t.Fatalf("recheck in %s, want 1m (pod on b becomes available)", recheck)
	}
	if st, _ = computeStatus(ds, nodes, byNode, "h", false, now); st.ObservedGeneration != 0 {
		t.Fatalf("observedGeneration raised with expectations pending")
	}
}

func TestRevisions(t *testing.T) {
	ds := testDS(func(ds *appsv1.DaemonSet) { ds.Annotations = map[string]string{"kubernetes.io/change-cause": "v1"} })
	patch, err := controllerutil.RevisionPatch(ds)
	if err != nil {
		t.Fatal(err)
	}
	// kubectl's comparison: json.Marshal of the DaemonSet, spec.template with $patch replace.
	b, _ := json.Marshal(ds)
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	tmpl := raw["spec"].(map[string]any)["template"].(map[string]any)
	tmpl["$patch"] = "replace"
	want, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	if string(patch) != string(want) {
		t.Fatalf("patch %s\nwant %s", patch, want)
	}
	cr, _ := newRevision(ds, 4)
	hash := templateHash(&ds.Spec.Template, nil)
	if cr.Name != "agent-"+hash || cr.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash || cr.Labels["app"] != "agent" || cr.Revision != 4 ||
		cr.Annotations["kubernetes.io/change-cause"] != "v1" || !metav1.IsControlledBy(cr, ds) {
		t.Fatalf("revision %+v", cr.ObjectMeta)
	}
	one := int32(1)
	if templateHash(&ds.Spec.Template, &one) == hash {
		t.Fatalf("collision count does not change the hash")
	}

	limited := testDS(func(ds *appsv1.DaemonSet) { ds.Spec.RevisionHistoryLimit = new(int32(1)) })
	var old []*appsv1.ControllerRevision
	for i, h := range []string{"h1", "h2", "h3"} {
		old = append(old, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "agent-" + h,
			Labels: map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: h}}, Revision: int64(i + 1)})
	}
	// h1 still runs on a node: h2 goes instead (two must go to keep one; only h2 and h3 are free).
	got := historyToDelete(limited, old, []*corev1.Pod{dpod("h1", readyOld, 0)})
	if names2(got) != "agent-h2,agent-h3" {
		t.Fatalf("history to delete: %s", names2(got))
	}
}

func names2(rs []*appsv1.ControllerRevision) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}
