package policy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

type resettable struct{ meta.RESTMapper }

func (resettable) Reset() {}

func configMap(ns, name string, lbls map[string]string, data map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns}, "data": data}}
	u.SetLabels(lbls)
	return u
}

type recorder struct {
	mu          sync.Mutex
	annotations map[string]string
	warnings    []string
}

func setup(t testing.TB, objs []runtime.Object, params ...runtime.Object) (*Validating, *recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := fake.NewSimpleClientset(objs...)
	scheme := runtime.NewScheme()
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{{Version: "v1", Resource: "configmaps"}: "ConfigMapList"}, params...)
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Version: "v1"}})
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	p := NewValidating(allowAlice{})
	rec := &recorder{annotations: map[string]string{}}
	p.annotate = func(_ context.Context, k, v string) { rec.mu.Lock(); rec.annotations[k] = v; rec.mu.Unlock() }
	p.start(ctx, client, dyn, resettable{m})
	select {
	case <-p.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("informers did not sync")
	}
	return p, rec
}

type allowAlice struct{}

func (allowAlice) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.User != nil && a.User.Name == "alice" {
		return auth.DecisionAllow, "", nil
	}
	return auth.DecisionNoOpinion, "", nil
}

func deployRules() *admissionregv1.MatchResources {
	return &admissionregv1.MatchResources{ResourceRules: []admissionregv1.NamedRuleWithOperations{{RuleWithOperations: admissionregv1.RuleWithOperations{
		Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
		Rule:       admissionregv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}}}}
}

func policy(name string, mod func(*admissionregv1.ValidatingAdmissionPolicySpec)) *admissionregv1.ValidatingAdmissionPolicy {
	p := &admissionregv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"},
		Spec: admissionregv1.ValidatingAdmissionPolicySpec{MatchConstraints: deployRules(), FailurePolicy: ptr.To(admissionregv1.Fail)}}
	mod(&p.Spec)
	return p
}

func binding(name, pol string, actions []admissionregv1.ValidationAction, mod func(*admissionregv1.ValidatingAdmissionPolicyBindingSpec)) *admissionregv1.ValidatingAdmissionPolicyBinding {
	b := &admissionregv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: pol, ValidationActions: actions}}
	if mod != nil {
		mod(&b.Spec)
	}
	return b
}

func deployAttrs(ns string, replicas int32, lbls map[string]string) *admission.Attributes {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: lbls}, Spec: appsv1.DeploymentSpec{Replicas: &replicas}}
	return &admission.Attributes{Operation: admission.Create, Resource: appsv1.SchemeGroupVersion.WithResource("deployments"),
		Kind: appsv1.SchemeGroupVersion.WithKind("Deployment"), Namespace: ns, Name: "web", Object: d,
		User: &auth.User{Name: "alice", Groups: []string{"system:authenticated"}}}
}

func ns(name string, lbls map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
}

var deny = []admissionregv1.ValidationAction{admissionregv1.Deny}

func TestDenyWithConfigMapParams(t *testing.T) {
	pol := policy("max-replicas", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.ParamKind = &admissionregv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
		s.Validations = []admissionregv1.Validation{{Expression: "object.spec.replicas <= int(params.data.max)"}}
	})
	b := binding("max-replicas-b", "max-replicas", deny, func(s *admissionregv1.ValidatingAdmissionPolicyBindingSpec) {
		s.ParamRef = &admissionregv1.ParamRef{Name: "limits", ParameterNotFoundAction: ptr.To(admissionregv1.DenyAction)}
	})
	p, _ := setup(t, []runtime.Object{pol, b, ns("a", nil), ns("b", nil)}, configMap("a", "limits", nil, map[string]any{"max": "3"}))
	err := p.Validate(context.Background(), deployAttrs("a", 5, nil))
	want := `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-b' denied request: failed expression: object.spec.replicas <= int(params.data.max)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if se, ok := err.(*apierrors.StatusError); !ok || se.ErrStatus.Code != 422 || se.ErrStatus.Reason != metav1.StatusReasonInvalid {
		t.Fatalf("status: %#v", err)
	}
	if err := p.Validate(context.Background(), deployAttrs("a", 2, nil)); err != nil {
		t.Fatalf("compliant: %v", err)
	}
	// No ConfigMap in namespace b (the request's namespace, paramRef.namespace empty): Deny action.
	// As upstream, a configuration error is a denial without a reason: 422 Invalid, with the usual prefix.
	err = p.Validate(context.Background(), deployAttrs("b", 2, nil))
	want = `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-b' denied request: failed to configure binding: no params found for policy binding with ` + "`Deny`" + ` parameterNotFoundAction`
	if err == nil || err.Error() != want || !apierrors.IsInvalid(err) {
		t.Fatalf("missing param: %v\nwant %s", err, want)
	}
}

// A configuration error comes first in the ordered denials: an earlier policy's misconfigured binding wins
// over a later policy's real denial.
func TestConfigErrorOrderedWithDenials(t *testing.T) {
	a := policy("a-misconfigured", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.ParamKind = &admissionregv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
		s.Validations = []admissionregv1.Validation{{Expression: "true"}}
	})
	ab := binding("ab", "a-misconfigured", deny, func(s *admissionregv1.ValidatingAdmissionPolicyBindingSpec) {
		s.ParamRef = &admissionregv1.ParamRef{Name: "missing", ParameterNotFoundAction: ptr.To(admissionregv1.DenyAction)}
	})
	z := policy("z-denies", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.Validations = []admissionregv1.Validation{{Expression: "false", Reason: ptr.To(metav1.StatusReasonForbidden)}}
	})
	p, _ := setup(t, []runtime.Object{a, ab, z, binding("zb", "z-denies", deny, nil), ns("a", nil)})
	err := p.Validate(context.Background(), deployAttrs("a", 1, nil))
	if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'a-misconfigured' with binding 'ab' denied request: failed to configure binding: ") || !apierrors.IsInvalid(err) {
		t.Fatalf("got %v", err)
	}
}

// auditAnnotation errors deny whatever the binding's validationActions (a Warn-only binding too), and are
// not validation failures.
func TestAuditAnnotationErrorAlwaysDenies(t *testing.T) {
	pol := policy("p", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.Validations = []admissionregv1.Validation{{Expression: "true"}}
		s.AuditAnnotations = []admissionregv1.AuditAnnotation{{Key: "k", ValueExpression: "string(object.spec.nope)"}}
	})
	b := binding("b", "p", []admissionregv1.ValidationAction{admissionregv1.Warn, admissionregv1.Audit}, nil)
	p, rec := setup(t, []runtime.Object{pol, b, ns("a", nil)})
	var warnings []string
	ctx := admission.WithWarnings(context.Background(), func(s string) { warnings = append(warnings, s) })
	err := p.Validate(ctx, deployAttrs("a", 1, nil))
	want := "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'string(object.spec.nope)' resulted in error: no such key: nope"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v\nwant ...%s", err, want)
	}
	if len(warnings) != 0 || rec.annotations[AnnotationValidationFailure] != "" {
		t.Fatalf("warnings %q, annotations %v", warnings, rec.annotations)
	}
	// failurePolicy Ignore: the error is left out.
	pol.Spec.FailurePolicy = ptr.To(admissionregv1.Ignore)
	p2, _ := setup(t, []runtime.Object{pol, b, ns("a", nil)})
	if err := p2.Validate(context.Background(), deployAttrs("a", 1, nil)); err != nil {
		t.Fatal(err)
	}
}

func TestParamSelectorEvaluatesEveryParam(t *testing.T) {
	pol := policy("p", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.ParamKind = &admissionregv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
		s.Validations = []admissionregv1.Validation{{Expression: "object.spec.replicas <= int(params.data.max)", MessageExpression: "'limit ' + params.data.max"}}
	})
	b := binding("b", "p", deny, func(s *admissionregv1.ValidatingAdmissionPolicyBindingSpec) {
		s.ParamRef = &admissionregv1.ParamRef{Namespace: "cfg", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"limit": "yes"}},
			ParameterNotFoundAction: ptr.To(admissionregv1.AllowAction)}
	})
	p, _ := setup(t, []runtime.Object{pol, b, ns("a", nil)},
		configMap("cfg", "high", map[string]string{"limit": "yes"}, map[string]any{"max": "10"}),
		configMap("cfg", "low", map[string]string{"limit": "yes"}, map[string]any{"max": "4"}),
		configMap("cfg", "other", nil, map[string]any{"max": "1"}))
	err := p.Validate(context.Background(), deployAttrs("a", 5, nil))
	if err == nil || !strings.HasSuffix(err.Error(), "denied request: limit 4") {
		t.Fatalf("got %v", err)
	}
	if err := p.Validate(context.Background(), deployAttrs("a", 4, nil)); err != nil {
		t.Fatal(err)
	}
}

func TestWarnAuditAndAnnotations(t *testing.T) {
	pol := policy("p", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.Validations = []admissionregv1.Validation{{Expression: "true"}, {Expression: "object.spec.replicas < 3", Message: "too many"}}
		s.AuditAnnotations = []admissionregv1.AuditAnnotation{{Key: "replicas", ValueExpression: "string(object.spec.replicas)"},
			{Key: "none", ValueExpression: "null"}}
	})
	b := binding("b", "p", []admissionregv1.ValidationAction{admissionregv1.Warn, admissionregv1.Audit}, nil)
	p, rec := setup(t, []runtime.Object{pol, b, ns("a", nil)})
	var warnings []string
	ctx := admission.WithWarnings(context.Background(), func(s string) { warnings = append(warnings, s) })
	if err := p.Validate(ctx, deployAttrs("a", 5, nil)); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0] != "Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': too many" {
		t.Fatalf("warnings %q", warnings)
	}
	want := `[{"message":"too many","policy":"p","binding":"b","expressionIndex":1,"validationActions":["Warn","Audit"]}]`
	if got := rec.annotations[AnnotationValidationFailure]; got != want {
		t.Fatalf("audit annotation %s\nwant %s", got, want)
	}
	if rec.annotations["p/replicas"] != "5" {
		t.Fatalf("annotations %v", rec.annotations)
	}
	if _, ok := rec.annotations["p/none"]; ok {
		t.Fatal("null annotation published")
	}
}

func TestMatchingConditionsSelectorsAndFailurePolicy(t *testing.T) {
	pol := policy("p", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.MatchConstraints.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
		s.MatchConditions = []admissionregv1.MatchCondition{{Name: "not-exempt", Expression: "!has(object.metadata.labels) || !('exempt' in object.metadata.labels)"}}
		s.Variables = []admissionregv1.Variable{{Name: "r", Expression: "object.spec.replicas"}, {Name: "big", Expression: "variables.r > 3"}}
		s.Validations = []admissionregv1.Validation{{Expression: "!variables.big", Reason: ptr.To(metav1.StatusReasonForbidden)}}
	})
	b := binding("b", "p", deny, func(s *admissionregv1.ValidatingAdmissionPolicyBindingSpec) {
		s.MatchResources = &admissionregv1.MatchResources{ObjectSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip", Operator: metav1.LabelSelectorOpDoesNotExist}}}}
	})
	bad := policy("bad", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.FailurePolicy = ptr.To(admissionregv1.Ignore)
		s.Validations = []admissionregv1.Validation{{Expression: "object.spec.nope > 1"}}
	})
	p, _ := setup(t, []runtime.Object{pol, b, bad, binding("bb", "bad", deny, nil), ns("prod", map[string]string{"env": "prod"}), ns("dev", nil)})
	err := p.Validate(context.Background(), deployAttrs("prod", 5, nil))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "failed expression: !variables.big") {
		t.Fatalf("prod: %v", err)
	}
	for _, c := range []struct {
		ns   string
		lbls map[string]string
	}{{"dev", nil}, {"prod", map[string]string{"exempt": ""}}, {"prod", map[string]string{"skip": ""}}} {
		if err := p.Validate(context.Background(), deployAttrs(c.ns, 5, c.lbls)); err != nil {
			t.Fatalf("%s %v: %v", c.ns, c.lbls, err)
		}
	}
	// failurePolicy Fail: the runtime error denies.
	bad.Spec.FailurePolicy = ptr.To(admissionregv1.Fail)
	bad.ResourceVersion = "2"
	p2, _ := setup(t, []runtime.Object{bad, binding("bb", "bad", deny, nil), ns("dev", nil)})
	err = p2.Validate(context.Background(), deployAttrs("dev", 1, nil))
	if err == nil || !strings.Contains(err.Error(), "expression 'object.spec.nope > 1' resulted in error: no such key: nope") {
		t.Fatalf("fail: %v", err)
	}
}

func TestAuthorizerVariable(t *testing.T) {
	pol := policy("p", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.Validations = []admissionregv1.Validation{{Expression: "authorizer.group('apps').resource('deployments').namespace('a').check('delete').allowed()"},
			{Expression: "authorizer.requestResource.check('create').allowed()"}}
	})
	p, _ := setup(t, []runtime.Object{pol, binding("b", "p", deny, nil), ns("a", nil)})
	if err := p.Validate(context.Background(), deployAttrs("a", 1, nil)); err != nil {
		t.Fatal(err)
	}
	a := deployAttrs("a", 1, nil)
	a.User = &auth.User{Name: "bob"}
	if err := p.Validate(context.Background(), a); err == nil {
		t.Fatal("bob allowed")
	}
}

func TestExemptAndUnbound(t *testing.T) {
	pol := policy("p", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.Validations = []admissionregv1.Validation{{Expression: "false"}}
	})
	p, _ := setup(t, []runtime.Object{pol, ns("a", nil)})
	if err := p.Validate(context.Background(), deployAttrs("a", 1, nil)); err != nil {
		t.Fatalf("policy without binding ran: %v", err)
	}
}

// BenchmarkValidate: one matching policy with a ConfigMap param, a variable, two validations and an audit
// annotation, evaluated for a Deployment create that passes.
func BenchmarkValidate(b *testing.B) {
	pol := policy("max-replicas", func(s *admissionregv1.ValidatingAdmissionPolicySpec) {
		s.ParamKind = &admissionregv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
		s.Variables = []admissionregv1.Variable{{Name: "max", Expression: "int(params.data.max)"}}
		s.Validations = []admissionregv1.Validation{{Expression: "object.spec.replicas <= variables.max"},
			{Expression: "object.metadata.name.size() < 64"}}
		s.AuditAnnotations = []admissionregv1.AuditAnnotation{{Key: "replicas", ValueExpression: "string(object.spec.replicas)"}}
	})
	bd := binding("b", "max-replicas", deny, func(s *admissionregv1.ValidatingAdmissionPolicyBindingSpec) {
		s.ParamRef = &admissionregv1.ParamRef{Name: "limits", ParameterNotFoundAction: ptr.To(admissionregv1.DenyAction)}
	})
	p, _ := setup(b, []runtime.Object{pol, bd, ns("a", nil)}, configMap("a", "limits", nil, map[string]any{"max": "3"}))
	a := deployAttrs("a", 2, nil)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Validate(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}
