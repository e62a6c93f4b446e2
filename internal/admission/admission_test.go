package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

type mutatorFunc func(ctx context.Context, a *Attributes) error

func (f mutatorFunc) Admit(ctx context.Context, a *Attributes) error { return f(ctx, a) }

// TestReinvocationRerunsEveryMutator: when a plugin asks for reinvocation, the second pass runs the built-in
// mutators too, so they see what a policy or webhook added (here a container without the token mount).
func TestReinvocationRerunsEveryMutator(t *testing.T) {
	var builtinRuns int
	builtin := mutatorFunc(func(_ context.Context, a *Attributes) error {
		builtinRuns++
		pod := a.Object.(*corev1.Pod)
		for i := range pod.Spec.Containers {
			if len(pod.Spec.Containers[i].VolumeMounts) == 0 {
				pod.Spec.Containers[i].VolumeMounts = []corev1.VolumeMount{{Name: "token", MountPath: "/var/run/secrets"}}
			}
		}
		return nil
	})
	adder := mutatorFunc(func(_ context.Context, a *Attributes) error {
		r := a.Reinvocation()
		if !r.IsReinvoke {
			pod := a.Object.(*corev1.Pod)
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "sidecar"})
			r.ShouldReinvoke = true
		}
		return nil
	})
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}
	a := &Attributes{Operation: Create, Object: pod}
	if err := (Chain{builtin, adder}).Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if builtinRuns != 2 {
		t.Fatalf("built-in mutator ran %d times, want 2", builtinRuns)
	}
	for _, c := range pod.Spec.Containers {
		if len(c.VolumeMounts) != 1 {
			t.Errorf("container %s mounts %v", c.Name, c.VolumeMounts)
		}
	}
	// Without a request for reinvocation, one pass.
	builtinRuns = 0
	if err := (Chain{builtin}).Admit(context.Background(), &Attributes{Operation: Create, Object: pod}); err != nil || builtinRuns != 1 {
		t.Fatalf("runs %d err %v", builtinRuns, err)
	}
}
