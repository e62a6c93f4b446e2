package statefulset

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controller/controllerutil"
)

var setKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// ordinalName matches <parent>-<ordinal>.
var ordinalName = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// parentAndOrdinal splits a pod name into its set's name and its ordinal; the ordinal is -1 when the name
// has none.
func parentAndOrdinal(name string) (string, int) {
	m := ordinalName.FindStringSubmatch(name)
	if m == nil {
		return "", -1
	}
	n, err := strconv.ParseInt(m[2], 10, 32)
	if err != nil {
		return "", -1
	}
	return m[1], int(n)
}

func ordinalOf(p *corev1.Pod) int {
	_, ord := parentAndOrdinal(p.Name)
	return ord
}

// isMember: the pod's name is <set>-<ordinal>.
func isMember(set *appsv1.StatefulSet, p *corev1.Pod) bool {
	parent, ord := parentAndOrdinal(p.Name)
	return parent == set.Name && ord >= 0
}

func podName(set *appsv1.StatefulSet, ord int) string { return fmt.Sprintf("%s-%d", set.Name, ord) }

func claimName(set *appsv1.StatefulSet, claim *corev1.PersistentVolumeClaim, ord int) string {
	return fmt.Sprintf("%s-%s-%d", claim.Name, set.Name, ord)
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicaCount(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func revisionOf(p *corev1.Pod) string { return p.Labels[appsv1.ControllerRevisionHashLabelKey] }

// newPod makes the pod of ordinal ord from set's template (set may be the set as of an older revision),
// labelled with that revision.
func newPod(set *appsv1.StatefulSet, revision string, ord int) *corev1.Pod {
	t := &set.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: podName(set, ord), Namespace: set.Namespace,
			Labels: copyMap(t.Labels), Annotations: copyMap(t.Annotations), Finalizers: append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, setKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	setIdentity(set, pod, ord)
	setStorage(set, pod, ord)
	pod.Labels[appsv1.ControllerRevisionHashLabelKey] = revision
	return pod
}

// setIdentity gives the pod its stable network identity and identity labels.
func setIdentity(set *appsv1.StatefulSet, pod *corev1.Pod, ord int) {
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ord)
}

// identityMatches: the pod carries the name, namespace and identity labels of ordinal ord.
func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod, ord int) bool {
	parent, o := parentAndOrdinal(pod.Name)
	return parent == set.Name && o == ord && pod.Namespace == set.Namespace &&
		pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name && pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(ord)
}

// claimsFor returns the PVCs the pod of ordinal ord uses, made from the volumeClaimTemplates: named
// <claim>-<set>-<ordinal>, labelled with the template's labels and the set's selector labels.
func claimsFor(set *appsv1.StatefulSet, ord int) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		c := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claimName(set, t, ord), Namespace: set.Namespace,
				Labels: copyMap(t.Labels), Annotations: copyMap(t.Annotations)},
			Spec: *t.Spec.DeepCopy(),
		}
		if set.Spec.Selector != nil && len(set.Spec.Selector.MatchLabels) > 0 {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for k, v := range set.Spec.Selector.MatchLabels {
				c.Labels[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// setStorage points a volume named after each claim template at the ordinal's claim (replacing a template
// volume of that name), claims first, as upstream.
func setStorage(set *appsv1.StatefulSet, pod *corev1.Pod, ord int) {
	if len(set.Spec.VolumeClaimTemplates) == 0 {
		return
	}
	claims := map[string]bool{}
	var vols []corev1.Volume
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		claims[t.Name] = true
		vols = append(vols, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(set, t, ord)}}})
	}
	for _, v := range pod.Spec.Volumes {
		if !claims[v.Name] {
			vols = append(vols, v)
		}
	}
	pod.Spec.Volumes = vols
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func terminating(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }

func runningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && controllerutil.PodReady(p)
}

// healthy: running, ready and not being deleted.
func healthy(p *corev1.Pod) bool { return runningAndReady(p) && !terminating(p) }

// availableIn returns how long until a running and ready pod has been ready for minReadySeconds (0: it is
// available now); ok is false when the pod is not running and ready at all.
func availableIn(p *corev1.Pod, minReady int32, now time.Time) (wait time.Duration, ok bool) {
	if !runningAndReady(p) {
		return 0, false
	}
	return controllerutil.AvailableIn(p, minReady, now)
}

func available(p *corev1.Pod, minReady int32, now time.Time) bool {
	w, ok := availableIn(p, minReady, now)
	return ok && w == 0
}
