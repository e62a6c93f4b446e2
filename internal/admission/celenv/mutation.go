package celenv

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// The types MutatingAdmissionPolicy expressions construct, as upstream names them: JSONPatch{op, path, from,
// value} for patchType JSONPatch, and Object{...} / Object.<field path>{...} (any field, untyped: skiff has
// no OpenAPI types in CEL) for patchType ApplyConfiguration.
const (
	ObjectTypeName    = "Object"
	JSONPatchTypeName = "JSONPatch"
)

var (
	// JSONPatchType is the type of JSONPatch{...}; a JSONPatch expression returns list(JSONPatch).
	JSONPatchType = types.NewObjectType(JSONPatchTypeName)
	// ObjectType is the type of Object{...}, what an ApplyConfiguration expression returns.
	ObjectType = types.NewObjectType(ObjectTypeName)
)

func isObjectTypeName(name string) bool {
	return name == ObjectTypeName || strings.HasPrefix(name, ObjectTypeName+".")
}

// mutationProvider resolves JSONPatch and Object[.path] struct types over the environment's own provider.
type mutationProvider struct{ types.Provider }

func (p *mutationProvider) FindStructType(name string) (*types.Type, bool) {
	switch {
	case name == JSONPatchTypeName:
		return types.NewTypeTypeWithParam(JSONPatchType), true
	case isObjectTypeName(name):
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Provider.FindStructType(name)
}

func (p *mutationProvider) FindStructFieldNames(name string) ([]string, bool) {
	switch {
	case name == JSONPatchTypeName:
		return []string{"op", "path", "from", "value"}, true
	case isObjectTypeName(name):
		return nil, true // any field
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p *mutationProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	switch {
	case name == JSONPatchTypeName:
		switch field {
		case "op", "path", "from":
			return &types.FieldType{Type: types.StringType}, true
		case "value":
			return &types.FieldType{Type: types.DynType}, true
		}
		return nil, false
	case isObjectTypeName(name):
		return &types.FieldType{Type: types.DynType,
			IsSet: func(target any) bool {
				m, ok := target.(map[string]any)
				if ok {
					_, ok = m[field]
				}
				return ok
			},
			GetFrom: func(target any) (any, error) {
				if m, ok := target.(map[string]any); ok {
					return m[field], nil
				}
				return nil, fmt.Errorf("cannot get field %q", field)
			}}, true
	}
	return p.Provider.FindStructFieldType(name, field)
}

func (p *mutationProvider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	switch {
	case name == JSONPatchTypeName:
		return newJSONPatch(fields)
	case isObjectTypeName(name):
		return &ObjectVal{TypeName: name, Fields: fields}
	}
	return p.Provider.NewValue(name, fields)
}

// JSONPatchVal is one JSONPatch{...} operation.
type JSONPatchVal struct {
	Op, Path, From string
	Val            ref.Val // nil: no value field
}

func newJSONPatch(fields map[string]ref.Val) ref.Val {
	p := &JSONPatchVal{}
	for k, v := range fields {
		if k == "value" {
			p.Val = v
			continue
		}
		s, ok := v.(types.String)
		if !ok {
			return types.NewErr("unexpected type %v for JSONPatch '%s' field", v.Type(), k)
		}
		switch k {
		case "op":
			p.Op = string(s)
		case "path":
			p.Path = string(s)
		case "from":
			p.From = string(s)
		default:
			return types.NewErr("unexpected JSONPatch field: %s", k)
		}
	}
	return p
}

func (p *JSONPatchVal) ConvertToNative(t reflect.Type) (any, error) {
	if t == reflect.TypeOf(p) {
		return p, nil
	}
	return nil, fmt.Errorf("cannot convert JSONPatch to %v", t)
}

func (p *JSONPatchVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case JSONPatchType:
		return p
	case types.TypeType:
		return JSONPatchType
	}
	return types.NewErr("type conversion error from 'JSONPatch' to '%s'", t.TypeName())
}

func (p *JSONPatchVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(*JSONPatchVal)
	if !ok || p.Op != o.Op || p.Path != o.Path || p.From != o.From || (p.Val == nil) != (o.Val == nil) {
		return types.False
	}
	if p.Val == nil {
		return types.True
	}
	return p.Val.Equal(o.Val)
}

func (p *JSONPatchVal) Get(index ref.Val) ref.Val {
	switch index {
	case types.String("op"):
		return types.String(p.Op)
	case types.String("path"):
		return types.String(p.Path)
	case types.String("from"):
		return types.String(p.From)
	case types.String("value"):
		if p.Val == nil {
			return types.NullValue
		}
		return p.Val
	}
	return types.NewErr("no such field: %v", index)
}

func (p *JSONPatchVal) IsSet(field ref.Val) ref.Val {
	switch field {
	case types.String("op"):
		return types.Bool(p.Op != "")
	case types.String("path"):
		return types.Bool(p.Path != "")
	case types.String("from"):
		return types.Bool(p.From != "")
	case types.String("value"):
		return types.Bool(p.Val != nil)
	}
	return types.NewErr("no such field: %v", field)
}

func (p *JSONPatchVal) Type() ref.Type { return JSONPatchType }
func (p *JSONPatchVal) Value() any     { return p }

// ObjectVal is an Object{...} / Object.<path>{...} construction: its fields, untyped.
type ObjectVal struct {
	TypeName string
	Fields   map[string]ref.Val
}

// Native is the object as JSON-like Go values (map[string]any, []any, string, int64, float64, bool, nil).
func (o *ObjectVal) Native() (map[string]any, error) {
	out := make(map[string]any, len(o.Fields))
	for k, v := range o.Fields {
		n, err := Native(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		out[k] = n
	}
	return out, nil
}

func (o *ObjectVal) ConvertToNative(t reflect.Type) (any, error) {
	m, err := o.Native()
	if err != nil {
		return nil, err
	}
	if reflect.TypeOf(m).AssignableTo(t) {
		return m, nil
	}
	return nil, fmt.Errorf("cannot convert %s to %v", o.TypeName, t)
}

func (o *ObjectVal) ConvertToType(t ref.Type) ref.Val {
	if t.TypeName() == o.TypeName {
		return o
	}
	if t == types.TypeType {
		return types.NewObjectType(o.TypeName)
	}
	return types.NewErr("type conversion error from '%s' to '%s'", o.TypeName, t.TypeName())
}

func (o *ObjectVal) Equal(other ref.Val) ref.Val {
	x, ok := other.(*ObjectVal)
	if !ok || x.TypeName != o.TypeName || len(x.Fields) != len(o.Fields) {
		return types.False
	}
	for k, v := range o.Fields {
		w, ok := x.Fields[k]
		if !ok || v.Equal(w) != types.True {
			return types.False
		}
	}
	return types.True
}

func (o *ObjectVal) Get(index ref.Val) ref.Val {
	if s, ok := index.(types.String); ok {
		if v, ok := o.Fields[string(s)]; ok {
			return v
		}
		return types.NullValue
	}
	return types.NewErr("no such field: %v", index)
}

func (o *ObjectVal) IsSet(field ref.Val) ref.Val {
	if s, ok := field.(types.String); ok {
		_, set := o.Fields[string(s)]
		return types.Bool(set)
	}
	return types.NewErr("no such field: %v", field)
}

func (o *ObjectVal) IsZeroValue() bool { return len(o.Fields) == 0 }
func (o *ObjectVal) Type() ref.Type    { return types.NewObjectType(o.TypeName) }
func (o *ObjectVal) Value() any {
	m, err := o.Native()
	if err != nil {
		return types.WrapErr(err)
	}
	return m
}

// CheckTypeNames verifies that nested Object constructions are named after their field path from the root
// (Object{spec: Object.spec{...}}), as upstream checks: Object{spec: Object.status{}} is a mismatch.
func (o *ObjectVal) CheckTypeNames() error {
	return errors.Join(checkNames(o, o.TypeName)...)
}

func checkNames(v ref.Val, want string) []error {
	var errs []error
	switch x := v.(type) {
	case *ObjectVal:
		if x.TypeName != want {
			errs = append(errs, fmt.Errorf("unexpected type name %q, expected %q, which matches field name path from root Object type", x.TypeName, want))
		}
		keys := make([]string, 0, len(x.Fields))
		for k := range x.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			errs = append(errs, checkNames(x.Fields[k], want+"."+k)...)
		}
	case traits.Lister:
		for it := x.Iterator(); it.HasNext() == types.True; {
			errs = append(errs, checkNames(it.Next(), want)...)
		}
	case traits.Mapper:
		for it := x.Iterator(); it.HasNext() == types.True; {
			errs = append(errs, checkNames(x.Get(it.Next()), want)...)
		}
	}
	return errs
}

// Native converts a CEL value to JSON-like Go values (what a JSON patch value or an apply configuration holds).
func Native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case *ObjectVal:
		return x.Native()
	case types.Null:
		return nil, nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return int64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bool:
		return bool(x), nil
	case *types.Err:
		return nil, x
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			s, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is of type %v, not string", k, k.Type())
			}
			n, err := Native(x.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(s)] = n
		}
		return out, nil
	case traits.Lister:
		out := []any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			n, err := Native(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	}
	if s, ok := v.ConvertToType(types.StringType).(types.String); ok {
		return string(s), nil // timestamps, durations, quantities, URLs: their string form
	}
	return v.Value(), nil
}

// escapeKey escapes a map key for a JSON Pointer path (RFC 6901): ~ as ~0, / as ~1.
func escapeKey(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func jsonPatchLib() cel.EnvOption {
	return cel.Lib(libOpts{
		cel.Function("jsonpatch.escapeKey", cel.Overload("string_jsonpatch_escapeKey_string",
			[]*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(k ref.Val) ref.Val { return types.String(escapeKey(string(k.(types.String)))) }))),
	})
}

var (
	mutationOnce sync.Once
	mutationEnv  *cel.Env
	mutationErr  error
)

// Mutation is the environment of MutatingAdmissionPolicy mutations: the policy one plus JSONPatch and
// Object types and jsonpatch.escapeKey.
func Mutation() (*cel.Env, error) {
	mutationOnce.Do(func() {
		env, err := Base()
		if err != nil {
			mutationErr = err
			return
		}
		provider := func(e *cel.Env) (*cel.Env, error) {
			return cel.CustomTypeProvider(&mutationProvider{Provider: e.CELTypeProvider()})(e)
		}
		mutationEnv, mutationErr = env.Extend(provider, jsonPatchLib())
	})
	return mutationEnv, mutationErr
}

// MutationWithVariables extends the mutation environment with params (hasParams) and the variables.
func MutationWithVariables(hasParams bool, vars []Var) (*cel.Env, error) {
	env, err := Mutation()
	if err != nil {
		return nil, err
	}
	return declare(env, hasParams, vars)
}

// CompileExact compiles expr, which must have exactly type want (no dyn): list(JSONPatch) or Object.
func CompileExact(env *cel.Env, expr string, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("compilation failed: %v", iss.Err())
	}
	if !ast.OutputType().IsExactType(want) {
		return nil, fmt.Errorf("compilation failed: must evaluate to %v", want)
	}
	return env.Program(ast, ProgramOptions()...)
}
