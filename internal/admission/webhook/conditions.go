package webhook

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/admission"
	"skiff/internal/admission/celenv"
	"skiff/internal/auth"
)

// matchConditions are CEL expressions over object, oldObject, request (the AdmissionRequest) and authorizer,
// as upstream, in the environment admission policies share (internal/admission/celenv).
var programs sync.Map // expression -> cel.Program or error

func program(expr string) (cel.Program, error) {
	if v, ok := programs.Load(expr); ok {
		if err, bad := v.(error); bad {
			return nil, err
		}
		return v.(cel.Program), nil
	}
	e, err := celenv.Webhook()
	if err != nil {
		return nil, err
	}
	prg, err := celenv.Compile(e, expr, celenv.Bool, false)
	if err != nil {
		programs.Store(expr, err)
		return nil, err
	}
	programs.Store(expr, prg)
	return prg, nil
}

// evalConditions: false when any condition is false (even if others failed, as upstream); an error when none
// is false but one could not be evaluated.
func evalConditions(ctx context.Context, conds []admissionregv1.MatchCondition, a *admission.Attributes, authz auth.Authorizer) (bool, error) {
	az := &celenv.Authz{Ctx: ctx, Authorizer: authz, User: a.User}
	name := a.Name
	if name == "" && a.Object != nil {
		if acc, err := meta.Accessor(a.Object); err == nil {
			name = acc.GetName()
		}
	}
	vars := map[string]any{"object": nil, "oldObject": nil, "request": nil, celenv.Authorizer: celenv.AuthorizerVal(az),
		celenv.RequestResource: celenv.RequestResourceVal(az, a.Resource.Group, a.Resource.Version, a.Resource.Resource, a.Subresource, a.Namespace, name)}
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
	m, _ := celenv.FromJSON(data)
	return m
}

func jsonMap(v any) any {
	m, _ := celenv.ToValue(v)
	return m
}
