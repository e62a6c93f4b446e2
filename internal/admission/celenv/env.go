// Package celenv is the CEL environment of admission expressions (ValidatingAdmissionPolicy validations,
// messageExpressions, auditAnnotations, variables and matchConditions, webhook matchConditions): the
// variables upstream offers (object, oldObject, request, params, namespaceObject, variables.<name>,
// authorizer, authorizer.requestResource), cel-go's extension libraries and the Kubernetes functions
// (lists, regex, quantity, url, authz; ip/cidr come from cel-go's ext.Network, which mirrors them).
// Objects are seen as their JSON form, untyped (no OpenAPI type checking).
package celenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// PerCallLimit is the runtime cost one expression may spend, as upstream's per-call limit: a runaway
// expression fails ("operation cancelled: actual cost limit exceeded") instead of hanging the request.
const PerCallLimit = 1000000

// Variable names.
const (
	Object          = "object"
	OldObject       = "oldObject"
	Request         = "request"
	Params          = "params"
	NamespaceObject = "namespaceObject"
	Authorizer      = "authorizer"
	RequestResource = "authorizer.requestResource"
	// VariablesPrefix: spec.variables are reached as variables.<name>.
	VariablesPrefix = "variables."
)

var (
	baseOnce sync.Once
	base     *cel.Env
	baseErr  error
)

// LibraryOptions are the environment options and libraries of skiff's Kubernetes CEL, without variables
// and without the authorizer library: cel-go's extensions (strings, sets, lists, math, encoders, bindings,
// two-variable comprehensions, ip/cidr) and the Kubernetes lists, regex, url and quantity functions. The
// structured authentication configuration's CEL builds on them (upstream's base environment).
func LibraryOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		ext.Lists(),
		ext.Math(),
		ext.Encoders(),
		ext.TwoVarComprehensions(),
		ext.Bindings(),
		ext.Network(),
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals(),
			cel.ValidateRegexLiterals(), cel.ValidateHomogeneousAggregateLiterals()),
		listsLib(), regexLib(), urlLib(), quantityLib(),
	}
}

func options() []cel.EnvOption {
	return append(LibraryOptions(),
		authzLib(),
		cel.Variable(Object, cel.DynType),
		cel.Variable(OldObject, cel.DynType),
		cel.Variable(Request, cel.DynType),
		cel.Variable(Authorizer, AuthorizerType),
		cel.Variable(RequestResource, ResourceCheckType),
	)
}

var (
	webhookOnce sync.Once
	webhook     *cel.Env
	webhookErr  error
)

// Webhook is the environment of webhook matchConditions: object, oldObject, request, authorizer (no params,
// namespaceObject or variables, as upstream).
func Webhook() (*cel.Env, error) {
	webhookOnce.Do(func() { webhook, webhookErr = cel.NewEnv(options()...) })
	return webhook, webhookErr
}

// Base is the environment of admission policies: the webhook one plus namespaceObject. params and
// spec.variables are declared per policy (WithVariables).
func Base() (*cel.Env, error) {
	baseOnce.Do(func() {
		base, baseErr = cel.NewEnv(append(options(), cel.Variable(NamespaceObject, cel.DynType))...)
	})
	return base, baseErr
}

// Var is a spec.variables entry as the expressions after it see it: variables.<Name>, of the type its
// expression compiled to (dyn when unknown), as upstream's composited variables.
type Var struct {
	Name string
	Type *cel.Type
}

// declare extends env with params (only when the policy has a paramKind, as upstream) and the variables.
func declare(env *cel.Env, hasParams bool, vars []Var) (*cel.Env, error) {
	var opts []cel.EnvOption
	if hasParams {
		opts = append(opts, cel.Variable(Params, cel.DynType))
	}
	for _, v := range vars {
		t := v.Type
		if t == nil {
			t = cel.DynType
		}
		opts = append(opts, cel.Variable(VariablesPrefix+v.Name, t))
	}
	if len(opts) == 0 {
		return env, nil
	}
	return env.Extend(opts...)
}

// WithVariables extends the base environment with params (hasParams) and variables.<name> for each var.
func WithVariables(hasParams bool, vars []Var) (*cel.Env, error) {
	env, err := Base()
	if err != nil {
		return nil, err
	}
	return declare(env, hasParams, vars)
}

// Result types an expression may be required to have.
var (
	Bool   = cel.BoolType
	String = cel.StringType
	Any    = cel.DynType
)

// Compile compiles expr; want is Bool, String or Any. As upstream, the checked type must be exactly the
// one required (a dyn result, such as a bare object.spec.enabled, is refused: compare it, == true); String
// also accepts null when nullable (auditAnnotation valueExpressions).
func Compile(env *cel.Env, expr string, want *cel.Type, nullable bool) (cel.Program, error) {
	prg, _, err := CompileType(env, expr, want, nullable)
	return prg, err
}

// CompileType is Compile, also returning the expression's checked type.
func CompileType(env *cel.Env, expr string, want *cel.Type, nullable bool) (cel.Program, *cel.Type, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, nil, fmt.Errorf("compilation failed: %v", iss.Err())
	}
	out := ast.OutputType()
	if want != Any {
		ok := out.IsExactType(want) || (nullable && out.IsExactType(cel.NullType))
		if !ok {
			if nullable {
				return nil, nil, fmt.Errorf("must evaluate to one of [%v %v] but got %v", want, cel.NullType, out)
			}
			return nil, nil, fmt.Errorf("must evaluate to %v but got %v", want, out)
		}
	}
	prg, err := env.Program(ast, ProgramOptions()...)
	if err != nil {
		return nil, nil, fmt.Errorf("program instantiation failed: %v", err)
	}
	return prg, out, nil
}

// FromJSON decodes JSON as CEL sees Kubernetes objects: integers as int64 (not float64), so
// object.spec.replicas is an int.
func FromJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return fixNumbers(v), nil
}

// ToValue is v (a Go struct or map) as CEL sees it: its JSON form.
func ToValue(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return FromJSON(data)
}

func fixNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = fixNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// Lazy memoizes a value computed on first use (spec.variables: evaluated only when an expression reads
// them, once per evaluation of a policy).
func Lazy(f func() ref.Val) func() ref.Val {
	var once sync.Once
	var v ref.Val
	return func() ref.Val {
		once.Do(func() { v = f() })
		return v
	}
}

// ErrVal turns an error into a CEL error value.
func ErrVal(err error) ref.Val { return types.WrapErr(err) }
