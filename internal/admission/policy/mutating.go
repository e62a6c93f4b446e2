package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	admissionreglisters "k8s.io/client-go/listers/admissionregistration/v1"
	"k8s.io/client-go/restmapper"

	"skiff/internal/admission"
	"skiff/internal/admission/celenv"
	"skiff/internal/auth"
)

// MutatingPluginName keys the plugin's state in the reinvocation context.
const MutatingPluginName = "MutatingAdmissionPolicy"

// Mutating is the MutatingAdmissionPolicy admission plugin. It does nothing until Start.
type Mutating struct {
	plugin[*compiledMutating]
	policies admissionreglisters.MutatingAdmissionPolicyLister
	bindings admissionreglisters.MutatingAdmissionPolicyBindingLister
}

// NewMutating returns the plugin; authz is the server's authorizer chain (the CEL authorizer variable).
func NewMutating(authz auth.Authorizer) *Mutating {
	return &Mutating{plugin: newPlugin[*compiledMutating](authz)}
}

// Start runs the informers over policies, bindings and namespaces.
func (p *Mutating) Start(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface) {
	p.start(ctx, client, dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery())))
}

func (p *Mutating) start(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, mapper meta.ResettableRESTMapper) {
	f := informers.NewSharedInformerFactory(client, 0)
	ar := f.Admissionregistration().V1()
	p.policies, p.bindings = ar.MutatingAdmissionPolicies().Lister(), ar.MutatingAdmissionPolicyBindings().Lister()
	p.startCommon(ctx, client, dyn, mapper, f, ar.MutatingAdmissionPolicies().Informer(),
		ar.MutatingAdmissionPolicies().Informer().HasSynced, ar.MutatingAdmissionPolicyBindings().Informer().HasSynced)
}

// compiledMutating is a policy's expressions, compiled once per resourceVersion.
type compiledMutating struct {
	vars       *Variables
	conditions []*Expr
	mutations  []*Expr
}

// CompileMutating compiles a MutatingAdmissionPolicy's expressions (exported for registry validation):
// variables, matchConditions, and each mutation (a JSONPatch expression must return list(JSONPatch), an
// ApplyConfiguration one Object; a mutation of an unknown patchType gets a nil entry).
func CompileMutating(spec *admissionregv1.MutatingAdmissionPolicySpec) (vars *Variables, conds, mutations []*Expr) {
	vars = CompileVariables(spec.Variables, spec.ParamKind != nil)
	conds = vars.CompileMatchConditions(spec.MatchConditions)
	for _, m := range spec.Mutations {
		var e *Expr
		switch {
		case m.PatchType == admissionregv1.PatchTypeJSONPatch && m.JSONPatch != nil:
			e = vars.CompileMutation(m.JSONPatch.Expression, cel.ListType(celenv.JSONPatchType))
		case m.PatchType == admissionregv1.PatchTypeApplyConfiguration && m.ApplyConfiguration != nil:
			e = vars.CompileMutation(m.ApplyConfiguration.Expression, celenv.ObjectType)
		}
		mutations = append(mutations, e)
	}
	return
}

func (p *Mutating) compile(pol *admissionregv1.MutatingAdmissionPolicy) *compiledMutating {
	return p.compiledFor(pol.Name, pol.ResourceVersion, func() *compiledMutating {
		c := &compiledMutating{}
		c.vars, c.conditions, c.mutations = CompileMutating(&pol.Spec)
		return c
	})
}

// mutatingState is the plugin's part of the reinvocation context (upstream's policyReinvokeContext).
type mutatingState struct {
	lastOutput        runtime.Object
	invoked, reinvoke map[string]bool
}

func (s *mutatingState) requireReinvokingInvoked() {
	for k := range s.invoked {
		s.reinvoke[k] = true
	}
	s.invoked = map[string]bool{}
}

type policyFailure struct {
	err    error
	fail   bool
	reason metav1.StatusReason
}

// Admit runs every policy with a matching binding: per binding and param, matchConditions, then the
// mutations in order, each seeing the object the previous one produced. Deletes are not mutated (upstream
// handles CREATE, UPDATE and CONNECT).
func (p *Mutating) Admit(ctx context.Context, a *admission.Attributes) error {
	if a.Operation == admission.Delete {
		return nil
	}
	if ok, err := p.ready(ctx, a); !ok {
		return err
	}
	bindings, _ := p.bindings.List(labels.Everything())
	if len(bindings) == 0 {
		return nil
	}
	rc := a.Reinvocation()
	st, _ := rc.Value(MutatingPluginName).(*mutatingState)
	if st == nil {
		st = &mutatingState{invoked: map[string]bool{}, reinvoke: map[string]bool{}}
		rc.SetValue(MutatingPluginName, st)
	}
	if rc.IsReinvoke && a.Object != nil && !apiequality.Semantic.DeepEqual(st.lastOutput, a.Object) {
		// A later plugin (a mutating webhook) changed the object: every IfNeeded policy runs again.
		st.requireReinvokingInvoked()
	}
	defer func() {
		if a.Object != nil {
			st.lastOutput = a.Object.DeepCopyObject()
		}
	}()

	byPolicy := map[string][]*admissionregv1.MutatingAdmissionPolicyBinding{}
	for _, b := range bindings {
		byPolicy[b.Spec.PolicyName] = append(byPolicy[b.Spec.PolicyName], b)
	}
	names := make([]string, 0, len(byPolicy))
	for n := range byPolicy {
		names = append(names, n)
	}
	sort.Strings(names)

	var failures []policyFailure
	var ns *corev1.Namespace
	nsRead := false
	for _, name := range names {
		pol, err := p.policies.Get(name)
		if err != nil {
			continue // a binding to a policy that does not exist does nothing
		}
		fail := pol.Spec.FailurePolicy == nil || *pol.Spec.FailurePolicy != admissionregv1.Ignore
		ok, err := PolicyMatches(ctx, pol.Spec.MatchConstraints, a, p.namespace)
		if err != nil {
			failures = append(failures, policyFailure{err: ConfigError{Policy: pol.Name, Err: err}, fail: fail})
			continue
		}
		if !ok {
			continue
		}
		cp := p.compile(pol)
		bs := byPolicy[name]
		sort.Slice(bs, func(i, j int) bool { return bs[i].Name < bs[j].Name })
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
				failures = append(failures, policyFailure{err: ConfigError{Policy: pol.Name, Binding: b.Name, Err: err}, fail: fail})
				continue
			}
			if len(params) > 0 && !nsRead {
				nsRead = true
				if a.Namespace != "" && !(a.Kind.Group == "" && a.Kind.Kind == "Namespace") {
					if ns, err = p.namespace(ctx, a.Namespace); err != nil {
						var se *apierrors.StatusError
						if errors.As(err, &se) {
							return se
						}
						return apierrors.NewNotFound(corev1.Resource("namespaces"), a.Namespace)
					}
				}
			}
			for _, param := range params {
				key := invocationKey(pol.Name, b.Name, param)
				if rc.IsReinvoke && !st.reinvoke[key] {
					continue
				}
				before := a.Object
				if before != nil {
					before = before.DeepCopyObject()
				}
				errs, err := p.invoke(ctx, a, pol, cp, ns, param)
				if err != nil {
					return err
				}
				for _, e := range errs {
					failures = append(failures, policyFailure{err: PolicyError{Policy: pol.Name, Binding: b.Name, Err: e},
						fail: fail, reason: metav1.StatusReasonInvalid})
				}
				if !apiequality.Semantic.DeepEqual(before, a.Object) {
					// Every IfNeeded policy invoked before saw an object that has changed since.
					st.requireReinvokingInvoked()
					rc.ShouldReinvoke = true
				}
				if pol.Spec.ReinvocationPolicy == admissionregv1.IfNeededReinvocationPolicy {
					st.invoked[key] = true
				}
			}
		}
	}
	return refusal(a, failures)
}

// invoke runs one policy for one binding's param: matchConditions (on the object as it is now), then the
// mutations in order. It returns the failures (failurePolicy decides), or a status error that refuses the
// request whatever the failurePolicy (an internal error, as upstream).
func (p *Mutating) invoke(ctx context.Context, a *admission.Attributes, pol *admissionregv1.MutatingAdmissionPolicy,
	cp *compiledMutating, ns *corev1.Namespace, param map[string]any) ([]error, error) {
	run := cp.vars.Bind(NewInputs(ctx, a, ns, p.authz).Activation(param, nil))
	var condErr error
	mcBudget := celenv.NewBudget(celenv.RuntimeCELCostBudgetMatchConditions)
	for i, c := range cp.conditions {
		v, err := run.Eval(c, mcBudget)
		if errors.Is(err, celenv.ErrOutOfBudget) {
			return []error{err}, nil
		}
		if err == nil {
			if b, ok := v.(types.Bool); !ok {
				err = fmt.Errorf("expected bool, got %v", v.Type())
			} else if !bool(b) {
				return nil, nil
			} else {
				continue
			}
		}
		if condErr == nil {
			condErr = fmt.Errorf("failed to evaluate matchCondition %q: %v", pol.Spec.MatchConditions[i].Name, err)
		}
	}
	if condErr != nil {
		return []error{condErr}, nil
	}
	var errs []error
	for i, e := range cp.mutations {
		if a.Object == nil { // nothing to patch (a CONNECT)
			continue
		}
		if i > 0 {
			// Each mutation sees the object the previous one produced.
			run = cp.vars.Bind(NewInputs(ctx, a, ns, p.authz).Activation(param, nil))
		}
		// Each mutation has a budget of its own (upstream's per-Patch RuntimeCELCostBudget).
		err := mutate(a, pol.Spec.Mutations[i].PatchType, e, run, celenv.NewBudget(celenv.RuntimeCELCostBudget))
		if err == nil {
			continue
		}
		var se *apierrors.StatusError
		if errors.As(err, &se) {
			return nil, se
		}
		errs = append(errs, err)
	}
	return errs, nil
}

func mutate(a *admission.Attributes, pt admissionregv1.PatchType, e *Expr, run *Run, budget *celenv.Budget) error {
	if e == nil {
		return fmt.Errorf("unsupported patchType %q", pt)
	}
	v, err := run.Eval(e, budget)
	if err != nil {
		if e.Err != nil || errors.Is(err, celenv.ErrOutOfBudget) {
			return err
		}
		return fmt.Errorf("expression '%s' resulted in error: %v", e.Text, err)
	}
	if pt == admissionregv1.PatchTypeJSONPatch {
		patch, err := jsonPatchOps(v)
		if err != nil {
			return err
		}
		return applyJSONPatch(a, patch)
	}
	return applyConfiguration(a, v)
}

// invocationKey names a policy's invocation for one binding and param (reinvocation is per invocation).
func invocationKey(policy, binding string, param map[string]any) string {
	key := policy + "/" + binding
	if md, ok := param["metadata"].(map[string]any); ok {
		n, _ := md["name"].(string)
		s, _ := md["namespace"].(string)
		key += "/" + s + "/" + n
	}
	return key
}

// refusal is upstream's answer when failures remain under failurePolicy Fail: 403 "admission request
// denied by policy" with the first failure as the message (reason Invalid for a failed mutation or
// matchCondition) and every failure as a cause.
func refusal(a *admission.Attributes, failures []policyFailure) error {
	var err *apierrors.StatusError
	for _, f := range failures {
		if !f.fail {
			continue
		}
		if err == nil {
			err = apierrors.NewForbidden(a.Resource.GroupResource(), requestName(a), fmt.Errorf("admission request denied by policy"))
			err.ErrStatus.Message = f.err.Error()
			if f.reason != "" {
				err.ErrStatus.Reason = f.reason
			}
		}
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Message: f.err.Error()})
	}
	if err == nil {
		return nil
	}
	return err
}
