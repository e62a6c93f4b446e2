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

// Base is the environment of admission policies without spec.variables: the webhook one plus params and
// namespaceObject.
func Base() (*cel.Env, error) {
	baseOnce.Do(func() {
		base, baseErr = cel.NewEnv(append(options(), cel.Variable(Params, cel.DynType), cel.Variable(NamespaceObject, cel.DynType))...)
	})
	return base, baseErr
}

// WithVariables extends the base environment with variables.<name> for each name (declared as dyn).
func WithVariables(names []string) (*cel.Env, error) {
	env, err := Base()
	if err != nil || len(names) == 0 {
		return env, err
	}
	opts := make([]cel.EnvOption, 0, len(names))
	for _, n := range names {
		opts = append(opts, cel.Variable(VariablesPrefix+n, cel.DynType))
	}
	return env.Extend(opts...)
}

// Result types an expression may be required to have.
var (
	Bool   = cel.BoolType
	String = cel.StringType
	Any    = cel.DynType
)

// Compile compiles expr; want is Bool, String or Any. A string result also accepts null for String when
// nullable (auditAnnotation valueExpressions). The error text is the checker's, as upstream shows it.
func Compile(env *cel.Env, expr string, want *cel.Type, nullable bool) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("compilation failed: %v", iss.Err())
	}
	if want != Any {
		out := ast.OutputType()
		ok := out.IsExactType(want) || out.IsExactType(cel.DynType)
		if nullable && out.IsExactType(cel.NullType) {
			ok = true
		}
		if !ok {
			what := "bool"
			if want == String {
				what = "string"
				if nullable {
					what = "string or null"
				}
			}
			return nil, fmt.Errorf("compilation failed: must evaluate to %s but got %v", what, out)
		}
	}
	return env.Program(ast, ProgramOptions()...)
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
