package policy

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	admissionregv1 "k8s.io/api/admissionregistration/v1"

	"skiff/internal/admission/celenv"
)

// Expr is a compiled expression, or why it did not compile.
type Expr struct {
	Text string
	Prg  cel.Program
	Err  error
}

// Run is one evaluation of a policy (one binding and param): the activation, and the cost spent by
// spec.variables (evaluated lazily, inside the first expression that reads them) not charged yet.
type Run struct {
	Act     map[string]any
	varCost uint64
}

// Eval runs e, charging its cost and that of the variables it evaluated to b (nil: no budget). Past the
// budget the result is celenv.ErrOutOfBudget, which ends the evaluation (as upstream).
func (r *Run) Eval(e *Expr, b *celenv.Budget) (ref.Val, error) {
	if e.Err != nil {
		return nil, e.Err
	}
	v, cost, err := celenv.EvalCost(e.Prg, r.Act)
	cost += r.varCost
	r.varCost = 0
	if berr := b.Charge(cost); berr != nil {
		return nil, berr
	}
	return v, err
}

// Variables are spec.variables compiled in order: each may use the ones before it.
type Variables struct {
	Names []string
	Exprs []*Expr
	// vars are the variables as declared to later expressions (with their compiled types).
	vars      []celenv.Var
	hasParams bool
	env       *cel.Env
	// menv is the mutation environment (JSONPatch, Object types) with the variables.
	menv *cel.Env
}

// CompileVariables compiles spec.variables; hasParams declares params (the policy has a paramKind).
func CompileVariables(vars []admissionregv1.Variable, hasParams bool) *Variables {
	v := &Variables{hasParams: hasParams}
	for _, x := range vars {
		env, err := celenv.WithVariables(hasParams, v.vars)
		e := &Expr{Text: x.Expression, Err: err}
		var t *cel.Type
		if err == nil {
			e.Prg, t, e.Err = celenv.CompileType(env, x.Expression, celenv.Any, false)
		}
		v.Names = append(v.Names, x.Name)
		v.vars = append(v.vars, celenv.Var{Name: x.Name, Type: t})
		v.Exprs = append(v.Exprs, e)
	}
	v.env, _ = celenv.WithVariables(hasParams, v.vars)
	return v
}

// Compile compiles an expression against the policy's environment (all its variables declared).
func (v *Variables) Compile(expr string, want *cel.Type, nullable bool) *Expr {
	e := &Expr{Text: expr}
	if v.env == nil {
		env, err := celenv.WithVariables(v.hasParams, v.vars)
		if err != nil {
			e.Err = err
			return e
		}
		v.env = env
	}
	e.Prg, e.Err = celenv.Compile(v.env, expr, want, nullable)
	return e
}

// Bind adds the lazily evaluated variables.<name> values to the base activation act (so later variables
// see earlier ones) and returns the Run to evaluate the policy's expressions with.
func (v *Variables) Bind(act map[string]any) *Run {
	r := &Run{Act: act}
	for i, name := range v.Names {
		e := v.Exprs[i]
		act[celenv.VariablesPrefix+name] = celenv.Lazy(func() ref.Val {
			if e.Err != nil {
				return celenv.ErrVal(e.Err)
			}
			val, cost, err := celenv.EvalCost(e.Prg, act)
			r.varCost += cost
			if err != nil {
				return celenv.ErrVal(err)
			}
			return val
		})
	}
	return r
}

// CompileMatchConditions compiles matchConditions (bool expressions).
func (v *Variables) CompileMatchConditions(conds []admissionregv1.MatchCondition) []*Expr {
	out := make([]*Expr, len(conds))
	for i, c := range conds {
		out[i] = v.Compile(c.Expression, celenv.Bool, false)
	}
	return out
}

// CompileMutation compiles a MutatingAdmissionPolicy mutation expression, which must have exactly type want
// (list(JSONPatch) or Object), in the mutation environment with the policy's variables.
func (v *Variables) CompileMutation(expr string, want *cel.Type) *Expr {
	e := &Expr{Text: expr}
	if v.menv == nil {
		env, err := celenv.MutationWithVariables(v.hasParams, v.vars)
		if err != nil {
			e.Err = err
			return e
		}
		v.menv = env
	}
	e.Prg, e.Err = celenv.CompileExact(v.menv, expr, want)
	return e
}
