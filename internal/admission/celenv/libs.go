package celenv

import (
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"k8s.io/apimachinery/pkg/api/resource"
)

// opaque is a value of one of the library types (URL, Quantity, the authorizer types).
type opaque struct {
	v   any
	t   *types.Type
	eq  func(a, b any) bool
	str string
}

func (o *opaque) ConvertToNative(t reflect.Type) (any, error) {
	if reflect.TypeOf(o.v).AssignableTo(t) {
		return o.v, nil
	}
	return nil, fmt.Errorf("type conversion error from '%s' to '%v'", o.t.TypeName(), t)
}

func (o *opaque) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.TypeType:
		return o.t
	case o.t:
		return o
	case types.StringType:
		if o.str != "" {
			return types.String(o.str)
		}
	}
	return types.NewErr("type conversion error from '%s' to '%s'", o.t.TypeName(), t.TypeName())
}

func (o *opaque) Equal(other ref.Val) ref.Val {
	x, ok := other.(*opaque)
	if !ok || x.t != o.t || o.eq == nil {
		return types.False
	}
	return types.Bool(o.eq(o.v, x.v))
}

func (o *opaque) Type() ref.Type { return o.t }
func (o *opaque) Value() any     { return o.v }

// ---- lists: isSorted, sum, min, max, indexOf, lastIndexOf (Kubernetes' list library) ----

func listsLib() cel.EnvOption {
	T := cel.TypeParamType("T")
	listT := cel.ListType(T)
	return cel.Lib(libOpts{
		cel.Function("isSorted", cel.MemberOverload("k8s_list_is_sorted", []*cel.Type{listT}, cel.BoolType,
			cel.UnaryBinding(func(l ref.Val) ref.Val { return isSorted(l) }))),
		cel.Function("sum", cel.MemberOverload("k8s_list_sum", []*cel.Type{listT}, T,
			cel.UnaryBinding(func(l ref.Val) ref.Val { return sum(l) }))),
		cel.Function("min", cel.MemberOverload("k8s_list_min", []*cel.Type{listT}, T,
			cel.UnaryBinding(func(l ref.Val) ref.Val { return extreme(l, -1) }))),
		cel.Function("max", cel.MemberOverload("k8s_list_max", []*cel.Type{listT}, T,
			cel.UnaryBinding(func(l ref.Val) ref.Val { return extreme(l, 1) }))),
		cel.Function("indexOf", cel.MemberOverload("k8s_list_index_of", []*cel.Type{listT, T}, cel.IntType,
			cel.BinaryBinding(func(l, v ref.Val) ref.Val { return indexOf(l, v, false) }))),
		cel.Function("lastIndexOf", cel.MemberOverload("k8s_list_last_index_of", []*cel.Type{listT, T}, cel.IntType,
			cel.BinaryBinding(func(l, v ref.Val) ref.Val { return indexOf(l, v, true) }))),
	})
}

type libOpts []cel.EnvOption

func (l libOpts) CompileOptions() []cel.EnvOption     { return l }
func (l libOpts) ProgramOptions() []cel.ProgramOption { return nil }

func elems(l ref.Val) ([]ref.Val, ref.Val) {
	lister, ok := l.(traits.Lister)
	if !ok {
		return nil, types.MaybeNoSuchOverloadErr(l)
	}
	var out []ref.Val
	for it := lister.Iterator(); it.HasNext() == types.True; {
		out = append(out, it.Next())
	}
	return out, nil
}

func compare(a, b ref.Val) (int, ref.Val) {
	c, ok := a.(traits.Comparer)
	if !ok {
		return 0, types.MaybeNoSuchOverloadErr(a)
	}
	r := c.Compare(b)
	if types.IsError(r) {
		return 0, r
	}
	i, ok := r.(types.Int)
	if !ok {
		return 0, types.MaybeNoSuchOverloadErr(r)
	}
	return int(i), nil
}

func isSorted(l ref.Val) ref.Val {
	es, errv := elems(l)
	if errv != nil {
		return errv
	}
	for i := 1; i < len(es); i++ {
		c, errv := compare(es[i-1], es[i])
		if errv != nil {
			return errv
		}
		if c > 0 {
			return types.False
		}
	}
	return types.True
}

func sum(l ref.Val) ref.Val {
	es, errv := elems(l)
	if errv != nil {
		return errv
	}
	if len(es) == 0 {
		return types.IntZero
	}
	acc := es[0]
	for _, e := range es[1:] {
		a, ok := acc.(traits.Adder)
		if !ok {
			return types.MaybeNoSuchOverloadErr(acc)
		}
		acc = a.Add(e)
		if types.IsError(acc) {
			return acc
		}
	}
	return acc
}

func extreme(l ref.Val, dir int) ref.Val {
	es, errv := elems(l)
	if errv != nil {
		return errv
	}
	if len(es) == 0 {
		if dir < 0 {
			return types.NewErr("min called on empty list")
		}
		return types.NewErr("max called on empty list")
	}
	best := es[0]
	for _, e := range es[1:] {
		c, errv := compare(e, best)
		if errv != nil {
			return errv
		}
		if c*dir > 0 {
			best = e
		}
	}
	return best
}

func indexOf(l, v ref.Val, last bool) ref.Val {
	es, errv := elems(l)
	if errv != nil {
		return errv
	}
	idx := -1
	for i, e := range es {
		if e.Equal(v) == types.True {
			idx = i
			if !last {
				break
			}
		}
	}
	return types.Int(idx)
}

// ---- regex: find, findAll ----

func regexLib() cel.EnvOption {
	find := func(s, re ref.Val) ref.Val {
		r, err := regexp.Compile(string(re.(types.String)))
		if err != nil {
			return types.WrapErr(err)
		}
		return types.String(r.FindString(string(s.(types.String))))
	}
	findAll := func(s, re ref.Val, n int) ref.Val {
		r, err := regexp.Compile(string(re.(types.String)))
		if err != nil {
			return types.WrapErr(err)
		}
		return types.DefaultTypeAdapter.NativeToValue(r.FindAllString(string(s.(types.String)), n))
	}
	return cel.Lib(libOpts{
		cel.Function("find", cel.MemberOverload("k8s_string_find", []*cel.Type{cel.StringType, cel.StringType}, cel.StringType,
			cel.BinaryBinding(find))),
		cel.Function("findAll",
			cel.MemberOverload("k8s_string_find_all", []*cel.Type{cel.StringType, cel.StringType}, cel.ListType(cel.StringType),
				cel.BinaryBinding(func(s, re ref.Val) ref.Val { return findAll(s, re, -1) })),
			cel.MemberOverload("k8s_string_find_all_n", []*cel.Type{cel.StringType, cel.StringType, cel.IntType}, cel.ListType(cel.StringType),
				cel.FunctionBinding(func(a ...ref.Val) ref.Val { return findAll(a[0], a[1], int(a[2].(types.Int))) }))),
	})
}

// ---- url ----

// URLType is the type of url(...) values.
var URLType = cel.ObjectType("kubernetes.URL")

func parseURL(s string) (*url.URL, error) {
	u, err := url.ParseRequestURI(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "" && u.Path == "" {
		return nil, fmt.Errorf("URL must be absolute or an absolute path")
	}
	return u, nil
}

func urlVal(u *url.URL) ref.Val {
	return &opaque{v: u, t: URLType, str: u.String(), eq: func(a, b any) bool { return a.(*url.URL).String() == b.(*url.URL).String() }}
}

func urlLib() cel.EnvOption {
	get := func(name string, f func(u *url.URL) any) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload("k8s_url_"+name, []*cel.Type{URLType}, cel.DynType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				u, ok := v.Value().(*url.URL)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return types.DefaultTypeAdapter.NativeToValue(f(u))
			})))
	}
	return cel.Lib(libOpts{
		cel.Function("url", cel.Overload("k8s_string_to_url", []*cel.Type{cel.StringType}, URLType,
			cel.UnaryBinding(func(s ref.Val) ref.Val {
				u, err := parseURL(string(s.(types.String)))
				if err != nil {
					return types.NewErr("URL parse error during conversion from string: %v", err)
				}
				return urlVal(u)
			}))),
		cel.Function("isURL", cel.Overload("k8s_is_url_string", []*cel.Type{cel.StringType}, cel.BoolType,
			cel.UnaryBinding(func(s ref.Val) ref.Val {
				_, err := parseURL(string(s.(types.String)))
				return types.Bool(err == nil)
			}))),
		get("getScheme", func(u *url.URL) any { return u.Scheme }),
		get("getHost", func(u *url.URL) any { return u.Host }),
		get("getHostname", func(u *url.URL) any { return u.Hostname() }),
		get("getPort", func(u *url.URL) any { return u.Port() }),
		get("getEscapedPath", func(u *url.URL) any { return u.EscapedPath() }),
		get("getQuery", func(u *url.URL) any { return map[string][]string(u.Query()) }),
	})
}

// ---- quantity ----

// QuantityType is the type of quantity(...) values.
var QuantityType = cel.ObjectType("kubernetes.Quantity")

func quantityVal(q resource.Quantity) ref.Val {
	return &opaque{v: q, t: QuantityType, str: q.String(), eq: func(a, b any) bool {
		x, y := a.(resource.Quantity), b.(resource.Quantity)
		return x.Cmp(y) == 0
	}}
}

func quantityOf(v ref.Val) (resource.Quantity, bool) {
	q, ok := v.Value().(resource.Quantity)
	return q, ok
}

func quantityLib() cel.EnvOption {
	Q := QuantityType
	unary := func(name string, out *cel.Type, f func(q resource.Quantity) ref.Val) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload("k8s_quantity_"+name, []*cel.Type{Q}, out,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				q, ok := quantityOf(v)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return f(q)
			})))
	}
	cmp := func(a, b ref.Val) (int, ref.Val) {
		x, ok1 := quantityOf(a)
		y, ok2 := quantityOf(b)
		if !ok1 || !ok2 {
			return 0, types.MaybeNoSuchOverloadErr(b)
		}
		return x.Cmp(y), nil
	}
	arith := func(name string, sign int64) cel.EnvOption {
		return cel.Function(name,
			cel.MemberOverload("k8s_quantity_"+name, []*cel.Type{Q, Q}, Q, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				x, ok1 := quantityOf(a)
				y, ok2 := quantityOf(b)
				if !ok1 || !ok2 {
					return types.MaybeNoSuchOverloadErr(b)
				}
				x = x.DeepCopy()
				if sign > 0 {
					x.Add(y)
				} else {
					x.Sub(y)
				}
				return quantityVal(x)
			})),
			cel.MemberOverload("k8s_quantity_"+name+"_int", []*cel.Type{Q, cel.IntType}, Q, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				x, ok := quantityOf(a)
				if !ok {
					return types.MaybeNoSuchOverloadErr(a)
				}
				x = x.DeepCopy()
				y := *resource.NewQuantity(int64(b.(types.Int)), resource.DecimalSI)
				if sign > 0 {
					x.Add(y)
				} else {
					x.Sub(y)
				}
				return quantityVal(x)
			})))
	}
	return cel.Lib(libOpts{
		cel.Function("quantity", cel.Overload("k8s_string_to_quantity", []*cel.Type{cel.StringType}, Q,
			cel.UnaryBinding(func(s ref.Val) ref.Val {
				q, err := resource.ParseQuantity(string(s.(types.String)))
				if err != nil {
					return types.WrapErr(err)
				}
				return quantityVal(q)
			}))),
		cel.Function("isQuantity", cel.Overload("k8s_is_quantity_string", []*cel.Type{cel.StringType}, cel.BoolType,
			cel.UnaryBinding(func(s ref.Val) ref.Val {
				_, err := resource.ParseQuantity(string(s.(types.String)))
				return types.Bool(err == nil)
			}))),
		unary("sign", cel.IntType, func(q resource.Quantity) ref.Val { return types.Int(q.Sign()) }),
		unary("isInteger", cel.BoolType, func(q resource.Quantity) ref.Val {
			_, ok := q.AsInt64()
			return types.Bool(ok)
		}),
		unary("asInteger", cel.IntType, func(q resource.Quantity) ref.Val {
			i, ok := q.AsInt64()
			if !ok {
				return types.NewErr("cannot convert value to integer")
			}
			return types.Int(i)
		}),
		unary("asApproximateFloat", cel.DoubleType, func(q resource.Quantity) ref.Val {
			f := q.AsApproximateFloat64()
			if math.IsInf(f, 0) {
				return types.NewErr("value out of range")
			}
			return types.Double(f)
		}),
		arith("add", 1), arith("sub", -1),
		cel.Function("isLessThan", cel.MemberOverload("k8s_quantity_is_less_than", []*cel.Type{Q, Q}, cel.BoolType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				c, e := cmp(a, b)
				if e != nil {
					return e
				}
				return types.Bool(c < 0)
			}))),
		cel.Function("isGreaterThan", cel.MemberOverload("k8s_quantity_is_greater_than", []*cel.Type{Q, Q}, cel.BoolType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				c, e := cmp(a, b)
				if e != nil {
					return e
				}
				return types.Bool(c > 0)
			}))),
		cel.Function("compareTo", cel.MemberOverload("k8s_quantity_compare_to", []*cel.Type{Q, Q}, cel.IntType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				c, e := cmp(a, b)
				if e != nil {
					return e
				}
				return types.Int(c)
			}))),
	})
}
