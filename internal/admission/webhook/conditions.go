package webhook

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/admission"
)

// matchConditions are CEL expressions over object, oldObject and request (the AdmissionRequest), as upstream;
// the authorizer variable is not offered, so expressions using it fail to compile (an evaluation error).
var (
	celEnvOnce sync.Once
	celEnv     *cel.Env
	celEnvErr  error
	programs   sync.Map // expression -> cel.Program or error
)

func env() (*cel.Env, error) {
	celEnvOnce.Do(func() {
		celEnv, celEnvErr = cel.NewEnv(cel.Variable("object", cel.DynType), cel.Variable("oldObject", cel.DynType),
			cel.Variable("request", cel.DynType))
	})
	return celEnv, celEnvErr
}

func program(expr string) (cel.Program, error) {
	if v, ok := programs.Load(expr); ok {
		if err, bad := v.(error); bad {
			return nil, err
		}
		return v.(cel.Program), nil
	}
	e, err := env()
	if err != nil {
		return nil, err
	}
	ast, iss := e.Compile(expr)
	var prg cel.Program
	if iss != nil && iss.Err() != nil {
		err = fmt.Errorf("compilation failed: %v", iss.Err())
	} else if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		err = fmt.Errorf("must evaluate to bool")
	} else {
		prg, err = e.Program(ast)
	}
	if err != nil {
		programs.Store(expr, err)
		return nil, err
	}
	programs.Store(expr, prg)
	return prg, nil
}

// evalConditions: false when any condition is false (even if others failed, as upstream); an error when none
// is false but one could not be evaluated.
func evalConditions(conds []admissionregv1.MatchCondition, a *admission.Attributes) (bool, error) {
	vars := map[string]any{"object": nil, "oldObject": nil, "request": nil}
	if a.Object != nil {
		vars["object"] = toMap(a.Object, a)
	}
	if a.OldObject != nil {
		vars["oldObject"] = toMap(a.OldObject, a)
	}
	if rev, err := review(a, "v1"); err == nil {
		rev.Request.Object.Raw, rev.Request.OldObject.Raw = nil, nil
		vars["request"] = jsonMap(rev.Request)
	}
	var firstErr error
	for _, c := range conds {
		prg, err := program(c.Expression)
		if err == nil {
			var val ref.Val
			if val, _, err = prg.Eval(vars); err == nil {
				b, ok := val.(types.Bool)
				if !ok {
					err = fmt.Errorf("must evaluate to bool, got %v", val.Type())
				} else if !bool(b) {
					return false, nil
				} else {
					continue
				}
			}
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("failed to evaluate match condition %q: %w", c.Name, err)
		}
	}
	return firstErr == nil, firstErr
}

// toMap is the object as CEL sees it: its JSON form.
func toMap(obj runtime.Object, a *admission.Attributes) any {
	data, err := objectJSON(obj, a)
	if err != nil {
		return nil
	}
	var m any
	_ = json.Unmarshal(data, &m)
	return m
}

func jsonMap(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m any
	_ = json.Unmarshal(data, &m)
	return m
}
