package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	admissionreglisters "k8s.io/client-go/listers/admissionregistration/v1"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/admission"
	"skiff/internal/admission/celenv"
	"skiff/internal/apiserver/audit"
	"skiff/internal/auth"
)

// Validating is the ValidatingAdmissionPolicy admission plugin. It does nothing until Start.
type Validating struct {
	plugin[*compiledPolicy]
	policies admissionreglisters.ValidatingAdmissionPolicyLister
	bindings admissionreglisters.ValidatingAdmissionPolicyBindingLister
	// annotate records an audit annotation (audit.AddAnnotation; replaced in tests).
	annotate func(ctx context.Context, key, value string)
}

// NewValidating returns the plugin; authz is the server's authorizer chain (the CEL authorizer variable).
func NewValidating(authz auth.Authorizer) *Validating {
	return &Validating{plugin: newPlugin[*compiledPolicy](authz), annotate: audit.AddAnnotation}
}

// Start runs the informers over policies, bindings and namespaces, and the status writer.
func (p *Validating) Start(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface) {
	p.start(ctx, client, dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery())))
}

func (p *Validating) start(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, mapper meta.ResettableRESTMapper) {
	f := informers.NewSharedInformerFactory(client, 0)
	ar := f.Admissionregistration().V1()
	p.policies, p.bindings = ar.ValidatingAdmissionPolicies().Lister(), ar.ValidatingAdmissionPolicyBindings().Lister()
	st := newStatusWriter(client)
	_, _ = ar.ValidatingAdmissionPolicies().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { st.enqueue(o) },
		UpdateFunc: func(_, o any) { st.enqueue(o) },
	})
	go st.run(ctx)
	p.startCommon(ctx, client, dyn, mapper, f, ar.ValidatingAdmissionPolicies().Informer(),
		ar.ValidatingAdmissionPolicies().Informer().HasSynced, ar.ValidatingAdmissionPolicyBindings().Informer().HasSynced)
}

// compiledPolicy is a policy's expressions, compiled once per resourceVersion.
type compiledPolicy struct {
	vars        *Variables
	conditions  []*Expr
	validations []*Expr
	messages    []*Expr // nil entries: no messageExpression
	audits      []*Expr
}

// Compile compiles a policy's expressions (exported for registry validation).
func Compile(spec *admissionregv1.ValidatingAdmissionPolicySpec) (vars *Variables, conds, validations, messages, audits []*Expr) {
	vars = CompileVariables(spec.Variables, spec.ParamKind != nil)
	conds = vars.CompileMatchConditions(spec.MatchConditions)
	for _, v := range spec.Validations {
		validations = append(validations, vars.Compile(v.Expression, celenv.Bool, false))
		var m *Expr
		if v.MessageExpression != "" {
			m = vars.Compile(v.MessageExpression, celenv.String, false)
		}
		messages = append(messages, m)
	}
	for _, aa := range spec.AuditAnnotations {
		audits = append(audits, vars.Compile(aa.ValueExpression, celenv.String, true))
	}
	return
}

func (p *Validating) compile(pol *admissionregv1.ValidatingAdmissionPolicy) *compiledPolicy {
	return p.compiledFor(pol.Name, pol.ResourceVersion, func() *compiledPolicy {
		c := &compiledPolicy{}
		c.vars, c.conditions, c.validations, c.messages, c.audits = Compile(&pol.Spec)
		return c
	})
}

// decision is the outcome of one validation (or a failed audit annotation) for one binding and param.
type decision struct {
	deny    bool
	message string
	reason  metav1.StatusReason
	index   int
}

type denial struct {
	policy, binding string
	decision
}

// Validate runs every policy with a binding that matches the request.
func (p *Validating) Validate(ctx context.Context, a *admission.Attributes) error {
	if ok, err := p.ready(ctx, a); !ok {
		return err
	}
	bindings, _ := p.bindings.List(labels.Everything())
	if len(bindings) == 0 {
		return nil
	}
	byPolicy := map[string][]*admissionregv1.ValidatingAdmissionPolicyBinding{}
	for _, b := range bindings {
		byPolicy[b.Spec.PolicyName] = append(byPolicy[b.Spec.PolicyName], b)
	}
	names := make([]string, 0, len(byPolicy))
	for n := range byPolicy {
		names = append(names, n)
	}
	sort.Strings(names)

	// denials is upstream's ordered list of denied decisions: real denials, configuration errors (a binding
	// or policy that cannot be applied: "failed to configure binding: ...") and auditAnnotation errors, in
	// the order they occur; the first one answers.
	var denials []denial
	addConfigError := func(pol, binding string, err error) {
		what := "binding"
		if binding == "" {
			what = "policy"
		}
		denials = append(denials, denial{pol, binding, decision{deny: true, message: fmt.Sprintf("failed to configure %s: %v", what, err)}})
	}
	var inputs *Inputs
	for _, name := range names {
		pol, err := p.policies.Get(name)
		if err != nil {
			continue // a binding to a policy that does not exist does nothing
		}
		fail := pol.Spec.FailurePolicy == nil || *pol.Spec.FailurePolicy != admissionregv1.Ignore
		ok, err := PolicyMatches(ctx, pol.Spec.MatchConstraints, a, p.namespace)
		if err != nil {
			if fail {
				addConfigError(pol.Name, "", err)
			}
			continue
		}
		if !ok {
			continue
		}
		cp := p.compile(pol)
		bs := byPolicy[name]
		sort.Slice(bs, func(i, j int) bool { return bs[i].Name < bs[j].Name })
		annotations := map[string][]string{}
		for _, b := range bs {
			ok, err := MatchResources(ctx, b.Spec.MatchResources, a, p.namespace)
			if err == nil && !ok {
				continue
			}
			var params []map[string]any
			if err == nil {
				params, err = p.params.Collect(pol.Spec.ParamKind, b.Spec.ParamRef, a.Namespace)
			}
			if err != nil {
				if fail {
					addConfigError(pol.Name, b.Name, err)
				}
				continue
			}
			if len(params) == 0 {
				continue
			}
			if inputs == nil {
				var ns *corev1.Namespace
				if a.Namespace != "" && !(a.Kind.Group == "" && a.Kind.Kind == "Namespace") {
					if ns, err = p.namespace(ctx, a.Namespace); err != nil {
						return err
					}
				}
				inputs = NewInputs(ctx, a, ns, p.authz)
			}
			for _, param := range params {
				decisions, auditErrs, audits := evaluate(pol, cp, inputs, param, fail)
				for _, d := range decisions {
					if !d.deny {
						continue
					}
					for _, action := range b.Spec.ValidationActions {
						switch action {
						case admissionregv1.Deny:
							denials = append(denials, denial{pol.Name, b.Name, d})
						case admissionregv1.Warn:
							admission.AddWarning(ctx, fmt.Sprintf("Validation failed for ValidatingAdmissionPolicy '%s' with binding '%s': %s", pol.Name, b.Name, d.message))
						case admissionregv1.Audit:
							p.publishValidationFailure(ctx, b, d)
						}
					}
				}
				// auditAnnotation errors deny whatever the binding's validationActions (upstream's
				// AuditAnnotationActionError).
				for _, d := range auditErrs {
					denials = append(denials, denial{pol.Name, b.Name, d})
				}
				for _, kv := range audits {
					if !contains(annotations[kv[0]], kv[1]) {
						annotations[kv[0]] = append(annotations[kv[0]], kv[1])
					}
				}
			}
		}
		for k, vs := range annotations {
			p.annotate(ctx, pol.Name+"/"+k, strings.Join(vs, ", "))
		}
	}
	if len(denials) > 0 {
		d := denials[0]
		msg := fmt.Sprintf("ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s", d.policy, d.binding, d.message)
		if d.binding == "" {
			msg = fmt.Sprintf("ValidatingAdmissionPolicy '%s' denied request: %s", d.policy, d.message)
		}
		err := apierrors.NewForbidden(a.Resource.GroupResource(), requestName(a), fmt.Errorf("%s", msg))
		reason := d.reason
		if reason == "" {
			reason = metav1.StatusReasonInvalid
		}
		err.ErrStatus.Reason = reason
		err.ErrStatus.Code = reasonToCode(reason)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Message: msg})
		return err
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func reasonToCode(r metav1.StatusReason) int32 {
	switch r {
	case metav1.StatusReasonForbidden:
		return http.StatusForbidden
	case metav1.StatusReasonUnauthorized:
		return http.StatusUnauthorized
	case metav1.StatusReasonRequestEntityTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusUnprocessableEntity
}

// evaluate runs a policy for one binding's param: matchConditions, then validations (with their messages)
// and auditAnnotations. decisions go through the binding's validationActions; auditErrs (auditAnnotation
// errors) always deny. Errors become denials under failurePolicy Fail and are ignored under Ignore. Costs
// are upstream's budgets: RuntimeCELCostBudgetMatchConditions for the matchConditions, RuntimeCELCostBudget
// shared by the validations and their messages, another for the auditAnnotations; past one, the evaluation
// ends with a single error decision.
func evaluate(pol *admissionregv1.ValidatingAdmissionPolicy, cp *compiledPolicy, in *Inputs, param map[string]any, fail bool) (decisions, auditErrs []decision, audits [][2]string) {
	run := cp.vars.Bind(in.Activation(param, nil))
	errDecision := func(msg string) []decision {
		if !fail {
			return nil
		}
		return []decision{{deny: true, message: msg}}
	}
	// matchConditions: any false skips the policy; else the first error counts.
	var condErr error
	mcBudget := celenv.NewBudget(celenv.RuntimeCELCostBudgetMatchConditions)
	for i, c := range cp.conditions {
		v, err := run.Eval(c, mcBudget)
		if errors.Is(err, celenv.ErrOutOfBudget) {
			return errDecision(err.Error()), nil, nil
		}
		if err == nil {
			if b, ok := v.(types.Bool); !ok {
				err = fmt.Errorf("expected bool, got %v", v.Type())
			} else if !bool(b) {
				return nil, nil, nil
			} else {
				continue
			}
		}
		if condErr == nil {
			condErr = fmt.Errorf("failed to evaluate matchCondition %q: %v", pol.Spec.MatchConditions[i].Name, err)
		}
	}
	if condErr != nil {
		return errDecision(condErr.Error()), nil, nil
	}
	budget := celenv.NewBudget(celenv.RuntimeCELCostBudget)
	results := make([]ref.Val, len(cp.validations))
	errs := make([]error, len(cp.validations))
	for i, e := range cp.validations {
		v, err := run.Eval(e, budget)
		if errors.Is(err, celenv.ErrOutOfBudget) {
			return errDecision(err.Error()), nil, nil
		}
		if err == nil {
			if _, ok := v.(types.Bool); !ok {
				err = fmt.Errorf("expected bool, got %v", v.Type())
			}
		}
		if err != nil {
			err = fmt.Errorf("expression '%s' resulted in error: %v", e.Text, err)
		}
		results[i], errs[i] = v, err
	}
	var msgErr error // the messages ran out of budget
	for i := range cp.validations {
		val := pol.Spec.Validations[i]
		if errs[i] != nil {
			if fail {
				decisions = append(decisions, decision{deny: true, index: i, message: errs[i].Error()})
			}
			continue
		}
		if msgErr != nil {
			if fail {
				decisions = append(decisions, decision{deny: true, index: i, message: fmt.Sprintf("failed messageExpression: %v", msgErr)})
			}
			continue
		}
		if results[i] == types.True {
			continue
		}
		d := decision{deny: true, index: i, reason: metav1.StatusReasonInvalid}
		if val.Reason != nil {
			d.reason = *val.Reason
		}
		if m := cp.messages[i]; m != nil {
			mv, err := run.Eval(m, budget)
			switch {
			case errors.Is(err, celenv.ErrOutOfBudget):
				msgErr = err
				if fail {
					decisions = append(decisions, decision{deny: true, index: i, message: fmt.Sprintf("failed messageExpression: %v", msgErr)})
				}
				continue
			case err == nil:
				if s, ok := mv.Value().(string); ok {
					s = strings.TrimSpace(s)
					if len(s) <= 5*1024 && !strings.Contains(s, "\n") {
						d.message = s
					}
				}
			default:
				slog.Debug("messageExpression failed", "policy", pol.Name, "err", err)
			}
		}
		if d.message == "" {
			d.message = strings.TrimSpace(val.Message)
		}
		if d.message == "" {
			d.message = "failed expression: " + strings.TrimSpace(val.Expression)
		}
		decisions = append(decisions, d)
	}
	auditBudget := celenv.NewBudget(celenv.RuntimeCELCostBudget)
	for i, e := range cp.audits {
		aa := pol.Spec.AuditAnnotations[i]
		v, err := run.Eval(e, auditBudget)
		if errors.Is(err, celenv.ErrOutOfBudget) {
			return errDecision(err.Error()), nil, nil
		}
		if err != nil {
			if fail {
				auditErrs = append(auditErrs, decision{deny: true, index: i, message: fmt.Sprintf("expression '%s' resulted in error: %v", e.Text, err)})
			}
			continue
		}
		switch x := v.Value().(type) {
		case string:
			if s := strings.TrimSpace(x); s != "" {
				if len(s) > 10*1024 {
					s = s[:10*1024]
				}
				audits = append(audits, [2]string{aa.Key, s})
			}
		default:
			if v.Type() == types.NullType {
				continue
			}
			auditErrs = append(auditErrs, decision{deny: true, index: i, message: fmt.Sprintf(
				"valueExpression '%v' resulted in unsupported return type: %v. Return type must be either string or null.", aa.ValueExpression, v.Type())})
		}
	}
	return decisions, auditErrs, audits
}

// validationFailure is the JSON of the validation.policy.admission.k8s.io/validation_failure annotation.
type validationFailure struct {
	Message           string                            `json:"message"`
	Policy            string                            `json:"policy"`
	Binding           string                            `json:"binding"`
	ExpressionIndex   int                               `json:"expressionIndex"`
	ValidationActions []admissionregv1.ValidationAction `json:"validationActions"`
}

// AnnotationValidationFailure is the audit annotation an Audit binding's failures are recorded under.
const AnnotationValidationFailure = "validation.policy.admission.k8s.io/validation_failure"

func (p *Validating) publishValidationFailure(ctx context.Context, b *admissionregv1.ValidatingAdmissionPolicyBinding, d decision) {
	data, err := json.Marshal([]validationFailure{{Message: d.message, Policy: b.Spec.PolicyName, Binding: b.Name,
		ExpressionIndex: d.index, ValidationActions: b.Spec.ValidationActions}})
	if err != nil {
		return
	}
	p.annotate(ctx, AnnotationValidationFailure, string(data))
}
