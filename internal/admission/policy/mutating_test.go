package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"skiff/internal/admission"
)

func setupMutating(t testing.TB, objs []runtime.Object, params ...runtime.Object) *Mutating {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := fake.NewSimpleClientset(objs...)
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{{Version: "v1", Resource: "configmaps"}: "ConfigMapList"}, params...)
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Version: "v1"}})
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	p := NewMutating(allowAlice{})
	p.start(ctx, client, dyn, resettable{m})
	select {
	case <-p.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("informers did not sync")
	}
	return p
}

func mpolicy(name string, mod func(*admissionregv1.MutatingAdmissionPolicySpec), muts ...admissionregv1.Mutation) *admissionregv1.MutatingAdmissionPolicy {
	p := &admissionregv1.MutatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"},
		Spec: admissionregv1.MutatingAdmissionPolicySpec{MatchConstraints: deployRules(), FailurePolicy: ptr.To(admissionregv1.Fail),
			ReinvocationPolicy: admissionregv1.NeverReinvocationPolicy, Mutations: muts}}
	if mod != nil {
		mod(&p.Spec)
	}
	return p
}

func mbinding(name, pol string, mod func(*admissionregv1.MutatingAdmissionPolicyBindingSpec)) *admissionregv1.MutatingAdmissionPolicyBinding {
	b := &admissionregv1.MutatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregv1.MutatingAdmissionPolicyBindingSpec{PolicyName: pol}}
	if mod != nil {
		mod(&b.Spec)
	}
	return b
}

func jsonPatch(expr string) admissionregv1.Mutation {
	return admissionregv1.Mutation{PatchType: admissionregv1.PatchTypeJSONPatch, JSONPatch: &admissionregv1.JSONPatch{Expression: expr}}
}

func applyCfg(expr string) admissionregv1.Mutation {
	return admissionregv1.Mutation{PatchType: admissionregv1.PatchTypeApplyConfiguration, ApplyConfiguration: &admissionregv1.ApplyConfiguration{Expression: expr}}
}

func deployWithContainers(ns string) *admission.Attributes {
	a := deployAttrs(ns, 1, map[string]string{"app": "web"})
	d := a.Object.(*appsv1.Deployment)
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "a", Image: "img-a"}, {Name: "b", Image: "img-b", ImagePullPolicy: corev1.PullAlways}}
	return a
}

func TestJSONPatchAddsLabel(t *testing.T) {
	pol := mpolicy("label", nil, jsonPatch(`[JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/team"), value: "blue"}]`))
	p := setupMutating(t, []runtime.Object{pol, mbinding("label-b", "label", nil), ns("a", nil)})
	a := deployWithContainers("a")
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	d := a.Object.(*appsv1.Deployment)
	if d.Labels["example.com/team"] != "blue" || d.Labels["app"] != "web" {
		t.Errorf("labels %v", d.Labels)
	}
	// The object is defaulted again after the patch (as webhook patches are).
	if d.Spec.Template.Spec.Containers[0].TerminationMessagePath == "" {
		t.Errorf("not defaulted: %+v", d.Spec.Template.Spec.Containers[0])
	}
}

// TestApplyConfigurationMergesByKey: containers merge by name (SSA list keys): the policy sets a field on
// container b and adds a container c; a and b keep their other fields.
func TestApplyConfigurationMergesByKey(t *testing.T) {
	pol := mpolicy("pull", nil, applyCfg(`Object{
		metadata: Object.metadata{labels: {"mutated": "yes"}},
		spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{
			containers: [Object.spec.template.spec.containers{name: "b", imagePullPolicy: "IfNotPresent"},
			             Object.spec.template.spec.containers{name: "c", image: "img-c"}]}}}}`))
	p := setupMutating(t, []runtime.Object{pol, mbinding("pull-b", "pull", nil), ns("a", nil)})
	a := deployWithContainers("a")
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	d := a.Object.(*appsv1.Deployment)
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 3 || cs[0].Image != "img-a" || cs[1].Image != "img-b" || cs[1].ImagePullPolicy != corev1.PullIfNotPresent || cs[2].Image != "img-c" {
		t.Errorf("containers %+v", cs)
	}
	if d.Labels["mutated"] != "yes" || d.Labels["app"] != "web" {
		t.Errorf("labels %v", d.Labels)
	}
}

// TestMutationsInOrder: each mutation sees the previous one's result; variables and params are available.
func TestMutationsInOrderWithParams(t *testing.T) {
	pol := mpolicy("ordered", func(s *admissionregv1.MutatingAdmissionPolicySpec) {
		s.ParamKind = &admissionregv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
		s.Variables = []admissionregv1.Variable{{Name: "team", Expression: "params.data.team"}}
	},
		applyCfg(`Object{metadata: Object.metadata{labels: {"team": variables.team}}}`),
		jsonPatch(`[JSONPatch{op: "add", path: "/metadata/annotations", value: {"copied": object.metadata.labels["team"] + "-2"}}]`),
	)
	b := mbinding("ordered-b", "ordered", func(s *admissionregv1.MutatingAdmissionPolicyBindingSpec) {
		s.ParamRef = &admissionregv1.ParamRef{Name: "cfg", ParameterNotFoundAction: ptr.To(admissionregv1.DenyAction)}
	})
	p := setupMutating(t, []runtime.Object{pol, b, ns("a", nil), ns("b", nil)}, configMap("a", "cfg", nil, map[string]any{"team": "red"}))
	a := deployWithContainers("a")
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	d := a.Object.(*appsv1.Deployment)
	if d.Labels["team"] != "red" || d.Annotations["copied"] != "red-2" {
		t.Errorf("labels %v annotations %v", d.Labels, d.Annotations)
	}
	// No param in namespace b: Deny refuses.
	err := p.Admit(context.Background(), deployWithContainers("b"))
	if err == nil || !strings.Contains(err.Error(), "policy 'ordered' with binding 'ordered-b' denied request: failed to configure binding: no params found") {
		t.Errorf("missing param: %v", err)
	}
}

func TestFailurePolicy(t *testing.T) {
	bad := jsonPatch(`[JSONPatch{op: "add", path: "/metadata/labels/x", value: object.spec.nosuch.field}]`)
	good := jsonPatch(`[JSONPatch{op: "add", path: "/metadata/labels/ok", value: "yes"}]`)
	ignore := mpolicy("ignore", func(s *admissionregv1.MutatingAdmissionPolicySpec) { s.FailurePolicy = ptr.To(admissionregv1.Ignore) }, bad, good)
	p := setupMutating(t, []runtime.Object{ignore, mbinding("ignore-b", "ignore", nil), ns("a", nil)})
	a := deployWithContainers("a")
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatalf("Ignore: %v", err)
	}
	if a.Object.(*appsv1.Deployment).Labels["ok"] != "yes" {
		t.Errorf("later mutation not applied")
	}

	fail := mpolicy("fail", nil, bad)
	p = setupMutating(t, []runtime.Object{fail, mbinding("fail-b", "fail", nil), ns("a", nil)})
	err := p.Admit(context.Background(), deployWithContainers("a"))
	var se *apierrors.StatusError
	if !errorsAs(err, &se) || se.ErrStatus.Code != 403 || se.ErrStatus.Reason != metav1.StatusReasonInvalid ||
		!strings.Contains(se.ErrStatus.Message, "policy 'fail' with binding 'fail-b' denied request: expression '") {
		t.Errorf("Fail: %v", err)
	}

	// Atomic fields may not be set by an apply configuration (they would drop what they do not list).
	atomic := mpolicy("atomic", nil, applyCfg(`Object{spec: Object.spec{selector: Object.spec.selector{matchLabels: {"a": "b"}}}}`))
	p = setupMutating(t, []runtime.Object{atomic, mbinding("atomic-b", "atomic", nil), ns("a", nil)})
	if err := p.Admit(context.Background(), deployWithContainers("a")); err == nil || !strings.Contains(err.Error(), "may not mutate atomic") {
		t.Errorf("atomic: %v", err)
	}
}

// TestMatchConditionsAndTestOp: a false matchCondition skips the policy; a failed JSONPatch test operation
// leaves the object unchanged.
func TestMatchConditionsAndTestOp(t *testing.T) {
	pol := mpolicy("cond", func(s *admissionregv1.MutatingAdmissionPolicySpec) {
		s.MatchConditions = []admissionregv1.MatchCondition{{Name: "labelled", Expression: `has(object.metadata.labels) && "app" in object.metadata.labels`}}
	}, jsonPatch(`[JSONPatch{op: "test", path: "/metadata/name", value: "other"}, JSONPatch{op: "add", path: "/metadata/labels/t", value: "1"}]`),
		jsonPatch(`[JSONPatch{op: "add", path: "/metadata/labels/c", value: "1"}]`))
	p := setupMutating(t, []runtime.Object{pol, mbinding("cond-b", "cond", nil), ns("a", nil)})
	a := deployWithContainers("a")
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	l := a.Object.(*appsv1.Deployment).Labels
	if l["t"] != "" || l["c"] != "1" {
		t.Errorf("labels %v", l)
	}
	a = deployWithContainers("a")
	a.Object.(*appsv1.Deployment).Labels = nil
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if l := a.Object.(*appsv1.Deployment).Labels; len(l) != 0 {
		t.Errorf("matchCondition false but mutated: %v", l)
	}
}

// changer stands for a later mutating plugin (a webhook) that changes the object once.
type changer struct{ calls int }

func (c *changer) Admit(_ context.Context, a *admission.Attributes) error {
	c.calls++
	d := a.Object.(*appsv1.Deployment)
	if d.Labels["webhook"] == "" {
		d.Labels["webhook"] = "set"
		a.Reinvocation().ShouldReinvoke = true
	}
	return nil
}

// TestReinvocation: an IfNeeded policy runs again after a later plugin changed the object; a Never one not.
func TestReinvocation(t *testing.T) {
	for _, c := range []struct {
		policy admissionregv1.ReinvocationPolicyType
		want   string
	}{{admissionregv1.IfNeededReinvocationPolicy, "set"}, {admissionregv1.NeverReinvocationPolicy, ""}} {
		pol := mpolicy("copy", func(s *admissionregv1.MutatingAdmissionPolicySpec) { s.ReinvocationPolicy = c.policy },
			applyCfg(`Object{metadata: Object.metadata{labels: {"seen": "webhook" in object.metadata.labels ? object.metadata.labels["webhook"] : ""}}}`))
		p := setupMutating(t, []runtime.Object{pol, mbinding("copy-b", "copy", nil), ns("a", nil)})
		ch := &changer{}
		a := deployWithContainers("a")
		if err := (admission.Chain{p, ch}).Admit(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if got := a.Object.(*appsv1.Deployment).Labels["seen"]; got != c.want {
			t.Errorf("%s: seen=%q, want %q", c.policy, got, c.want)
		}
	}
}

func TestDeleteNotMutated(t *testing.T) {
	pol := mpolicy("label", nil, jsonPatch(`[JSONPatch{op: "add", path: "/metadata/labels/x", value: "y"}]`))
	p := setupMutating(t, []runtime.Object{pol, mbinding("label-b", "label", nil), ns("a", nil)})
	a := deployWithContainers("a")
	a.Operation, a.OldObject, a.Object = admission.Delete, a.Object, nil
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

func errorsAs(err error, se **apierrors.StatusError) bool {
	s, ok := err.(*apierrors.StatusError)
	*se = s
	return ok
}

// BenchmarkMutate: one matching policy with one mutation on a Deployment with two containers, per patch type.
func BenchmarkMutate(b *testing.B) {
	for _, c := range []struct {
		name string
		m    admissionregv1.Mutation
	}{
		{"ApplyConfiguration", applyCfg(`Object{spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{
			containers: object.spec.template.spec.containers.map(c, Object.spec.template.spec.containers{name: c.name, imagePullPolicy: "IfNotPresent"})}}}}`)},
		{"JSONPatch", jsonPatch(`[JSONPatch{op: "add", path: "/metadata/labels/team", value: "blue"}]`)},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := setupMutating(b, []runtime.Object{mpolicy("m", nil, c.m), mbinding("m-b", "m", nil), ns("a", nil)})
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				a := deployWithContainers("a")
				b.StartTimer()
				if err := p.Admit(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
