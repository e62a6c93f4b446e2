package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDefaultTolerationSeconds(t *testing.T) {
	plugin := DefaultTolerationSeconds{NotReadySeconds: 300, UnreachableSeconds: 60}
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	secs := func(s int64) *int64 { return &s }
	for _, tc := range []struct {
		name        string
		op, sub     string
		tolerations []corev1.Toleration
		// want are the keys and seconds of the tolerations after admission, in order.
		want []corev1.Toleration
	}{
		{name: "none", op: Create, want: []corev1.Toleration{
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(300)},
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(60)},
		}},
		{name: "update too", op: Update, want: []corev1.Toleration{
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(300)},
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(60)},
		}},
		{name: "status subresource untouched", op: Update, sub: "status"},
		{name: "unreachable already tolerated", op: Create,
			tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(3)}},
			want: []corev1.Toleration{
				{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(3)},
				{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(300)},
			}},
		{name: "any effect counts", op: Create,
			tolerations: []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists}},
			want: []corev1.Toleration{
				{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists},
				{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(60)},
			}},
		{name: "NoSchedule does not count", op: Create,
			tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			want: []corev1.Toleration{
				{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
				{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(300)},
				{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(60)},
			}},
		{name: "tolerates everything", op: Create,
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			want:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{name: "every NoExecute key", op: Create,
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
			want:        []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tc.tolerations}}
			a := &Attributes{Operation: tc.op, Resource: pods, Subresource: tc.sub, Object: pod}
			if err := plugin.Admit(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if len(pod.Spec.Tolerations) != len(tc.want) {
				t.Fatalf("tolerations = %+v, want %+v", pod.Spec.Tolerations, tc.want)
			}
			for i, w := range tc.want {
				g := pod.Spec.Tolerations[i]
				if g.Key != w.Key || g.Operator != w.Operator || g.Effect != w.Effect || (g.TolerationSeconds == nil) != (w.TolerationSeconds == nil) ||
					(g.TolerationSeconds != nil && *g.TolerationSeconds != *w.TolerationSeconds) {
					t.Fatalf("toleration %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	// Other kinds pass untouched.
	cm := &corev1.ConfigMap{}
	if err := plugin.Admit(context.Background(), &Attributes{Operation: Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Object: cm}); err != nil {
		t.Fatal(err)
	}
}
