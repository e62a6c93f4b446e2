package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"

	"skiff/internal/admission/celenv"
)

// CEL expressions of the structured authentication configuration, with upstream's two variables:
//
//	claims  map(string, dyn)      the token's claims (JSON numbers: int when integral, double otherwise)
//	user    oidc.UserInfo         the mapped user: username, uid, groups, extra (userValidationRules only)
//
// This environment is the authenticator's own (admission policies have theirs).

// ResultKind is what an expression must produce.
type ResultKind int

const (
	// ResultString: a string (username, uid).
	ResultString ResultKind = iota
	// ResultStrings: a string or a list of strings (groups, extra values); "", [] and null mean none.
	ResultStrings
	// ResultBool: a bool (validation rules).
	ResultBool
)

// UserInfo is the user variable of userValidationRules.
type UserInfo struct {
	Username string              `cel:"username"`
	UID      string              `cel:"uid"`
	Groups   []string            `cel:"groups"`
	Extra    map[string][]string `cel:"extra"`
}

// Expression is a compiled CEL expression of the configuration. Message is the rule's message (validation
// rules only).
type Expression struct {
	Source  string
	Message string
	ast     *cel.Ast
	prg     cel.Program
}

// userTypeName is the CEL name ext.NativeTypes gives UserInfo (last package path element, type name).
const userTypeName = "oidc.UserInfo"

var (
	envOnce            sync.Once
	claimsEnv, userEnv *cel.Env
	envErr             error
)

// baseEnvOptions: the Kubernetes CEL libraries of admission expressions (url, ip/cidr, quantity, regex,
// lists, cel-go's extensions), without the authorizer, as upstream's authentication CEL builds on the
// Kubernetes base environment.
func baseEnvOptions() []cel.EnvOption {
	return celenv.LibraryOptions()
}

func envs() (*cel.Env, *cel.Env, error) {
	envOnce.Do(func() {
		claimsEnv, envErr = cel.NewEnv(append(baseEnvOptions(), cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)))...)
		if envErr != nil {
			return
		}
		userEnv, envErr = cel.NewEnv(append(baseEnvOptions(), ext.NativeTypes(reflect.TypeFor[UserInfo](), ext.ParseStructTags(true)),
			cel.Variable("user", cel.ObjectType(userTypeName)))...)
	})
	if envErr != nil {
		return nil, nil, fmt.Errorf("oidc: CEL environment: %w", envErr)
	}
	return claimsEnv, userEnv, nil
}

// CompileClaims compiles an expression over the claims variable. The error is upstream's wording
// ("compilation failed: ...", "must evaluate to ...") for the caller to prefix with the field path.
func CompileClaims(src string, kind ResultKind) (*Expression, error) {
	env, _, err := envs()
	if err != nil {
		return nil, err
	}
	return compile(env, src, kind)
}

// CompileUser compiles a user validation rule (over the user variable; must be a bool).
func CompileUser(src string) (*Expression, error) {
	_, env, err := envs()
	if err != nil {
		return nil, err
	}
	return compile(env, src, ResultBool)
}

func compile(env *cel.Env, src string, kind ResultKind) (*Expression, error) {
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("compilation failed: %s", iss.Err())
	}
	if err := checkOutputType(ast.OutputType(), kind); err != nil {
		return nil, err
	}
	// The admission CEL's program options: the per-call limit with size-aware pricing of library calls.
	prg, err := env.Program(ast, celenv.ProgramOptions()...)
	if err != nil {
		return nil, fmt.Errorf("program instantiation failed: %w", err)
	}
	return &Expression{Source: src, ast: ast, prg: prg}, nil
}

// checkOutputType: validation rules must be typed bool (as upstream: a dyn result such as claims.admin is
// refused; compare it, claims.admin == true). Mapping expressions over the dyn claims are checked when they
// run, as upstream; one whose type is known and wrong (an int username, a map of groups) is refused here
// already, since it could only ever fail.
func checkOutputType(t *cel.Type, kind ResultKind) error {
	switch kind {
	case ResultBool:
		if !t.IsExactType(cel.BoolType) {
			return errors.New("must evaluate to bool")
		}
	case ResultString:
		if !t.IsExactType(cel.StringType) && !t.IsExactType(cel.DynType) {
			return fmt.Errorf("must evaluate to string (got %s)", t)
		}
	case ResultStrings:
		switch {
		case t.IsExactType(cel.StringType), t.IsExactType(cel.DynType), t.IsExactType(cel.NullType):
		case t.Kind() == types.ListKind && (t.Parameters()[0].IsExactType(cel.StringType) || t.Parameters()[0].IsExactType(cel.DynType)):
		default:
			return fmt.Errorf("must evaluate to a string or a list of strings (got %s)", t)
		}
	}
	return nil
}

// UsesClaim says whether the expression selects claims.<name> (claims.name, claims.?name, has(claims.name)),
// as upstream's check that an expression using claims.email also uses claims.email_verified.
func (e *Expression) UsesClaim(name string) bool {
	found := false
	celast.PreOrderVisit(e.ast.NativeRep().Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		switch x.Kind() {
		case celast.SelectKind:
			s := x.AsSelect()
			if s.FieldName() == name && isIdent(s.Operand(), "claims") {
				found = true
			}
		case celast.CallKind:
			c := x.AsCall()
			if c.FunctionName() == operators.OptSelect && len(c.Args()) == 2 && isIdent(c.Args()[0], "claims") &&
				c.Args()[1].Kind() == celast.LiteralKind && c.Args()[1].AsLiteral().Value() == name {
				found = true
			}
		}
	}))
	return found
}

func isIdent(x celast.Expr, name string) bool {
	return x.Kind() == celast.IdentKind && x.AsIdent() == name
}

func (e *Expression) eval(vars map[string]any) (ref.Val, error) {
	v, _, err := e.prg.Eval(vars)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// evalString runs a username or uid expression.
func (e *Expression) evalString(vars map[string]any) (string, error) {
	v, err := e.eval(vars)
	if err != nil {
		return "", err
	}
	s, ok := v.Value().(string)
	if !ok || v.Type() != types.StringType {
		return "", fmt.Errorf("expression must return a string, got %s", v.Type().TypeName())
	}
	return s, nil
}

// evalStrings runs a groups or extra expression: a string or a list of strings; "" , [] and null give nothing
// and empty strings in a list are dropped, as upstream.
func (e *Expression) evalStrings(vars map[string]any) ([]string, error) {
	v, err := e.eval(vars)
	if err != nil {
		return nil, err
	}
	bad := fmt.Errorf("expression must return a string or a list of strings, got %s", v.Type().TypeName())
	switch v.Type() {
	case types.NullType:
		return nil, nil
	case types.StringType:
		if s := v.Value().(string); s != "" {
			return []string{s}, nil
		}
		return nil, nil
	case types.ListType:
		native, err := v.ConvertToNative(reflect.TypeFor[[]any]())
		if err != nil {
			return nil, bad
		}
		var out []string
		for _, item := range native.([]any) {
			s, ok := item.(string)
			if !ok {
				return nil, bad
			}
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, bad
}

// evalRule runs a validation rule: nil when it holds, else upstream's message.
func (e *Expression) evalRule(vars map[string]any) error {
	v, err := e.eval(vars)
	if err != nil {
		return err
	}
	b, ok := v.Value().(bool)
	if !ok {
		return errors.New("validation expression must return a boolean")
	}
	if !b {
		return fmt.Errorf("validation expression '%s' failed: %s", e.Source, e.Message)
	}
	return nil
}

// celClaims turns the token's claims into the claims variable: JSON values, numbers as int when integral.
func celClaims(c claims) (map[string]any, error) {
	out := make(map[string]any, len(c))
	for k, raw := range c {
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("oidc: claim %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func decodeJSON(raw json.RawMessage) (any, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = numbers(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = numbers(v[k])
		}
	}
	return v
}
