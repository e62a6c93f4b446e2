package daemonset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// templateGenerationAnnotation is the deprecated template generation upstream's API server keeps on
// DaemonSets; when present, pods also get the pod-template-generation label.
const (
	templateGenerationAnnotation = "deprecated.daemonset.template.generation"
	templateGenerationLabel      = "pod-template-generation"
)

// addDaemonTolerations gives a daemon pod the tolerations upstream's controller adds to every one: it
// keeps running on not-ready and unreachable nodes (no tolerationSeconds), and is placed on nodes under
// disk, memory or pid pressure, cordoned nodes, and (hostNetwork pods) nodes without a pod network.
func addDaemonTolerations(spec *corev1.PodSpec) {
	add := func(key string, effect corev1.TaintEffect) {
		upsertToleration(spec, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect})
	}
	add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
}

// upsertToleration replaces the tolerations with t's key, operator, value and effect (whatever their
// tolerationSeconds) by t, or appends it.
func upsertToleration(spec *corev1.PodSpec, t corev1.Toleration) {
	var out []corev1.Toleration
	found := false
	for _, old := range spec.Tolerations {
		op := old.Operator
		if op == "" {
			op = corev1.TolerationOpEqual
		}
		if old.Key == t.Key && op == t.Operator && old.Value == t.Value && old.Effect == t.Effect {
			if !found {
				out = append(out, t)
				found = true
			}
			continue
		}
		out = append(out, old)
	}
	if !found {
		out = append(out, t)
	}
	spec.Tolerations = out
}

// templatePod is the daemon pod as it would be for any node: the template with the daemon tolerations.
func templatePod(ds *appsv1.DaemonSet) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ds.Namespace, Labels: ds.Spec.Template.Labels}, Spec: *ds.Spec.Template.Spec.DeepCopy()}
	addDaemonTolerations(&p.Spec)
	return p
}

// shouldRun tells whether the node should run the daemon pod (run) and whether a pod already there may stay
// (keep): the template's nodeName, nodeSelector and required node affinity must match the node, and its
// NoSchedule and NoExecute taints be tolerated; a node whose only untolerated taints are NoSchedule keeps its
// pod but gets no new one.
func shouldRun(ds *appsv1.DaemonSet, node *corev1.Node) (run, keep bool) {
	if n := ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	pod := templatePod(ds)
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !ok {
		return false, false
	}
	run, keep = true, true
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect != corev1.TaintEffectNoSchedule && taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if tolerated(pod.Spec.Tolerations, taint) {
			continue
		}
		run = false
		if taint.Effect == corev1.TaintEffectNoExecute {
			keep = false
		}
	}
	return run, keep
}

func tolerated(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Logger{}, taint, false) {
			return true
		}
	}
	return false
}

// newPod makes the daemon pod for the node: the template, labelled with the revision hash, with the daemon
// tolerations, and a required node affinity for that node alone (the scheduler binds it there).
func newPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	t := &ds.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: ds.Name + "-", Namespace: ds.Namespace,
			Labels: copyMap(t.Labels), Annotations: copyMap(t.Annotations), Finalizers: append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, dsKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	if g, ok := ds.Annotations[templateGenerationAnnotation]; ok {
		pod.Labels[templateGenerationLabel] = g
	}
	addDaemonTolerations(&pod.Spec)
	pod.Spec.Affinity = nodeAffinityFor(pod.Spec.Affinity, node)
	return pod
}

// nodeAffinityFor replaces the required node selector terms by one that matches the node's name: the
// controller already checked the template's own terms against the node.
func nodeAffinityFor(a *corev1.Affinity, node string) *corev1.Affinity {
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
		{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}
	if a == nil {
		a = &corev1.Affinity{}
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
	return a
}

// targetNode is the node a daemon pod is for: its spec.nodeName once bound, before that the node its
// required affinity names ("" when it names none).
func targetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 {
		return ""
	}
	for _, r := range terms[0].MatchFields {
		if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
			return r.Values[0]
		}
	}
	return ""
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
