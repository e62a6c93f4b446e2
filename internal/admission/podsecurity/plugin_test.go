package podsecurity

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

func testPlugin(t *testing.T, cfg *Configuration, labels map[string]string, pods ...*corev1.Pod) *Plugin {
	t.Helper()
	p, err := New(cfg, func(ctx context.Context, name string) (*corev1.Namespace, error) {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, nil
	}, func(ctx context.Context, ns string) ([]*corev1.Pod, error) { return pods, nil })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func privilegedPod(name string) *corev1.Pod {
	p := restrictedPod()
	p.Name, p.Namespace = name, "ns"
	sc(p).Privileged = ptr(true)
	return p
}

func podAttrs(op string, pod, old *corev1.Pod) *admission.Attributes {
	a := &admission.Attributes{Operation: op, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Namespace: "ns", Name: pod.Name,
		Object: pod, User: &auth.User{Name: "alice"}}
	if old != nil {
		a.OldObject = old
	}
	return a
}

func withWarnings() (context.Context, *[]string) {
	var w []string
	return admission.WithWarnings(context.Background(), func(s string) { w = append(w, s) }), &w
}

func TestEnforce(t *testing.T) {
	p := testPlugin(t, nil, map[string]string{EnforceLevelLabel: "restricted"})
	ctx, warnings := withWarnings()
	err := p.Validate(ctx, podAttrs(admission.Create, privilegedPod("x"), nil))
	want := `pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if len(*warnings) != 0 {
		t.Errorf("a refused pod got warnings: %v", *warnings)
	}
	if err := p.Validate(ctx, podAttrs(admission.Create, restrictedPod(), nil)); err != nil {
		t.Errorf("compliant pod: %v", err)
	}
	// Metadata-only updates of a violating pod are allowed; a new ephemeral container is checked.
	old := privilegedPod("x")
	upd := old.DeepCopy()
	upd.Labels = map[string]string{"a": "b"}
	upd.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
	if err := p.Validate(ctx, podAttrs(admission.Update, upd, old)); err != nil {
		t.Errorf("metadata update: %v", err)
	}
	upd.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg"}}}
	if err := p.Validate(ctx, podAttrs(admission.Update, upd, old)); !apierrors.IsForbidden(err) {
		t.Errorf("ephemeral container update: %v", err)
	}
	// Status updates are never checked.
	a := podAttrs(admission.Update, upd, old)
	a.Subresource = "status"
	if err := p.Validate(ctx, a); err != nil {
		t.Errorf("status: %v", err)
	}
}

func TestWarn(t *testing.T) {
	p := testPlugin(t, nil, map[string]string{WarnLevelLabel: "baseline", WarnVersionLabel: "v1.30"})
	ctx, warnings := withWarnings()
	pod := privilegedPod("x")
	pod.Spec.HostNetwork = true
	if err := p.Validate(ctx, podAttrs(admission.Create, pod, nil)); err != nil {
		t.Fatal(err)
	}
	want := `would violate PodSecurity "baseline:v1.30": host namespaces (hostNetwork=true), privileged (container "c" must not set securityContext.privileged=true)`
	if len(*warnings) != 1 || (*warnings)[0] != want {
		t.Errorf("got %q\nwant %q", *warnings, want)
	}
}

func TestPodControllers(t *testing.T) {
	p := testPlugin(t, nil, map[string]string{EnforceLevelLabel: "restricted"})
	ctx, warnings := withWarnings()
	pod := privilegedPod("x")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: pod.Spec}}}
	a := &admission.Attributes{Operation: admission.Create, Resource: appsv1.SchemeGroupVersion.WithResource("deployments"), Namespace: "ns", Name: "d", Object: d}
	if err := p.Validate(ctx, a); err != nil {
		t.Fatalf("workloads are never refused: %v", err)
	}
	want := `would violate PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`
	if len(*warnings) != 1 || (*warnings)[0] != want {
		t.Errorf("got %q\nwant %q", *warnings, want)
	}
	// An update leaving the template alone does not warn again.
	*warnings = nil
	scaled := d.DeepCopy()
	scaled.Spec.Replicas = ptr(int32(3))
	a = &admission.Attributes{Operation: admission.Update, Resource: appsv1.SchemeGroupVersion.WithResource("deployments"), Namespace: "ns", Name: "d", Object: scaled, OldObject: d}
	if err := p.Validate(ctx, a); err != nil || len(*warnings) != 0 {
		t.Errorf("scale: %v %v", err, *warnings)
	}
}

func TestExemptions(t *testing.T) {
	cfg, err := ParseConfig([]byte(`apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults: {enforce: baseline}
exemptions: {usernames: [admin], runtimeClasses: [kata], namespaces: [infra]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := testPlugin(t, cfg, nil)
	ctx := context.Background()
	if err := p.Validate(ctx, podAttrs(admission.Create, privilegedPod("x"), nil)); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `"baseline:latest"`) {
		t.Errorf("default enforce: %v", err)
	}
	a := podAttrs(admission.Create, privilegedPod("x"), nil)
	a.User.Name = "admin"
	if err := p.Validate(ctx, a); err != nil {
		t.Errorf("exempt user: %v", err)
	}
	a = podAttrs(admission.Create, privilegedPod("x"), nil)
	a.Namespace = "infra"
	if err := p.Validate(ctx, a); err != nil {
		t.Errorf("exempt namespace: %v", err)
	}
	pod := privilegedPod("x")
	pod.Spec.RuntimeClassName = ptr("kata")
	if err := p.Validate(ctx, podAttrs(admission.Create, pod, nil)); err != nil {
		t.Errorf("exempt runtime class: %v", err)
	}
}

func nsAttrs(op string, labels, oldLabels map[string]string) *admission.Attributes {
	a := &admission.Attributes{Operation: op, Resource: corev1.SchemeGroupVersion.WithResource("namespaces"), Name: "ns",
		Object: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: labels}}}
	if op == admission.Update {
		a.OldObject = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: oldLabels}}
	}
	return a
}

func TestNamespaceLabels(t *testing.T) {
	p := testPlugin(t, nil, nil, privilegedPod("a"), privilegedPod("b"), restrictedPod(), func() *corev1.Pod {
		q := privilegedPod("h")
		q.Spec.HostPID = true
		return q
	}())
	ctx, warnings := withWarnings()
	err := p.Validate(ctx, nsAttrs(admission.Create, map[string]string{EnforceLevelLabel: "strict"}, nil))
	want := `Namespace "ns" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted`
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if err := p.Validate(ctx, nsAttrs(admission.Update, map[string]string{WarnVersionLabel: "1.30"}, nil)); !apierrors.IsInvalid(err) {
		t.Errorf("bad version on update: %v", err)
	}
	// A namespace whose bad label predates the plugin can still have other labels changed.
	if err := p.Validate(ctx, nsAttrs(admission.Update, map[string]string{EnforceLevelLabel: "x", "team": "a"}, map[string]string{EnforceLevelLabel: "x"})); err != nil {
		t.Errorf("unrelated label change: %v", err)
	}
	if err := p.Validate(ctx, nsAttrs(admission.Update, map[string]string{EnforceLevelLabel: "baseline"}, nil)); err != nil {
		t.Fatal(err)
	}
	wantWarnings := []string{
		`existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"`,
		`a (and 1 other pod): privileged`,
		`h: host namespaces, privileged`,
	}
	if strings.Join(*warnings, "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(*warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	// Relaxing the level at the same version does not dry-run the pods.
	*warnings = nil
	if err := p.Validate(ctx, nsAttrs(admission.Update, map[string]string{EnforceLevelLabel: "baseline"}, map[string]string{EnforceLevelLabel: "restricted"})); err != nil || len(*warnings) != 0 {
		t.Errorf("relaxed: %v %v", err, *warnings)
	}
}
