package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func container(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Image: "x", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func limitRanger(items ...corev1.LimitRangeItem) LimitRanger {
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr", Namespace: "ns"}, Spec: corev1.LimitRangeSpec{Limits: items}}
	return LimitRanger{List: func(context.Context, string) ([]*corev1.LimitRange, error) { return []*corev1.LimitRange{lr}, nil }}
}

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

func TestLimitRangerDefaults(t *testing.T) {
	l := limitRanger(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer,
		Default: rl("cpu", "500m", "memory", "256Mi"), DefaultRequest: rl("cpu", "100m", "memory", "128Mi")})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		Containers:     []corev1.Container{container("app", nil, nil), container("own", rl("cpu", "1"), rl("cpu", "1"))},
		InitContainers: []corev1.Container{container("init", nil, nil)},
	}}
	a := &Attributes{Operation: Create, Resource: podsGVR, Namespace: "ns", Name: "p", Object: pod}
	if err := l.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	app := pod.Spec.Containers[0].Resources
	if app.Limits.Cpu().String() != "500m" || app.Requests.Cpu().String() != "100m" || app.Limits.Memory().String() != "256Mi" || app.Requests.Memory().String() != "128Mi" {
		t.Errorf("app resources = %+v", app)
	}
	own := pod.Spec.Containers[1].Resources
	if own.Limits.Cpu().String() != "1" || own.Requests.Cpu().String() != "1" || own.Limits.Memory().String() != "256Mi" {
		t.Errorf("own resources = %+v", own)
	}
	want := "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; " +
		"memory request for container own; memory limit for container own; " +
		"cpu, memory request for init container init; cpu, memory limit for init container init"
	if got := pod.Annotations[LimitRangerAnnotation]; got != want {
		t.Errorf("annotation = %q\nwant %q", got, want)
	}
	if err := l.Validate(context.Background(), a); err != nil {
		t.Errorf("validate after defaults: %v", err)
	}
}

func TestLimitRangerDefaultLimitAlsoRequests(t *testing.T) {
	// A LimitRange stored without a default request for a defaulted limit: the request follows the limit,
	// as pod defaulting would have made it.
	l := limitRanger(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: rl("cpu", "300m")})
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("app", nil, nil)}}}
	if err := l.Admit(context.Background(), &Attributes{Operation: Create, Resource: podsGVR, Namespace: "ns", Object: pod}); err != nil {
		t.Fatal(err)
	}
	if r := pod.Spec.Containers[0].Resources; r.Requests.Cpu().String() != "300m" || r.Limits.Cpu().String() != "300m" {
		t.Errorf("resources = %+v", r)
	}
}

func TestLimitRangerValidate(t *testing.T) {
	ctr := corev1.LimitTypeContainer
	for _, tc := range []struct {
		name string
		item corev1.LimitRangeItem
		pod  []corev1.Container
		want string // "" = allowed
	}{
		{"under max", corev1.LimitRangeItem{Type: ctr, Max: rl("cpu", "500m")}, []corev1.Container{container("a", rl("cpu", "200m"), rl("cpu", "500m"))}, ""},
		{"limit over max", corev1.LimitRangeItem{Type: ctr, Max: rl("cpu", "500m")}, []corev1.Container{container("a", rl("cpu", "200m"), rl("cpu", "1"))},
			`pods "p" is forbidden: maximum cpu usage per Container is 500m, but limit is 1`},
		{"no limit under max", corev1.LimitRangeItem{Type: ctr, Max: rl("memory", "1Gi")}, []corev1.Container{container("a", nil, nil)},
			`pods "p" is forbidden: maximum memory usage per Container is 1Gi.  No limit is specified`},
		{"request under min", corev1.LimitRangeItem{Type: ctr, Min: rl("cpu", "100m")}, []corev1.Container{container("a", rl("cpu", "50m"), nil)},
			`pods "p" is forbidden: minimum cpu usage per Container is 100m, but request is 50m`},
		{"ratio", corev1.LimitRangeItem{Type: ctr, MaxLimitRequestRatio: rl("cpu", "2")}, []corev1.Container{container("a", rl("cpu", "100m"), rl("cpu", "300m"))},
			`pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000`},
		{"pod max sums containers", corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: rl("cpu", "1")},
			[]corev1.Container{container("a", rl("cpu", "600m"), rl("cpu", "600m")), container("b", rl("cpu", "600m"), rl("cpu", "600m"))},
			`pods "p" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := limitRanger(tc.item)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: tc.pod}}
			err := l.Validate(context.Background(), &Attributes{Operation: Create, Resource: podsGVR, Namespace: "ns", Name: "p", Object: pod})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !apierrors.IsForbidden(err) {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestLimitRangerClaims(t *testing.T) {
	l := limitRanger(corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: rl("storage", "1Gi"), Max: rl("storage", "2Gi")})
	claim := func(size string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", size)}}}
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	if err := l.Validate(context.Background(), &Attributes{Operation: Create, Resource: gvr, Namespace: "ns", Name: "c", Object: claim("1Gi")}); err != nil {
		t.Fatal(err)
	}
	err := l.Validate(context.Background(), &Attributes{Operation: Create, Resource: gvr, Namespace: "ns", Name: "c", Object: claim("5Gi")})
	if want := `persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi`; err == nil || err.Error() != want {
		t.Fatalf("err = %v", err)
	}
}
