package celenv

import (
	"errors"
	"math"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Runtime cost. cel-go prices its standard operators by size (string concatenation, contains, matches,
// equality...) but every other function call at 1. CostEstimator prices the library functions skiff offers
// by the size of their arguments (and, for those that build a string or list, of their result), as
// upstream's library CostEstimator, so an expression cannot build huge values cheaply (nested cel.bind +
// join, replace, format...). Budgets are upstream's (k8s.io/apiserver/pkg/apis/cel).
const (
	// RuntimeCELCostBudget is what one evaluation of a policy (one binding and param) may spend across its
	// expressions: validations with their messageExpressions (and the variables they use), auditAnnotations
	// (a budget of their own), each mutation of a MutatingAdmissionPolicy.
	RuntimeCELCostBudget = 10000000
	// RuntimeCELCostBudgetMatchConditions is the budget of a policy's matchConditions for one evaluation.
	RuntimeCELCostBudgetMatchConditions = 2500000
	// CheckFrequency: comprehension iterations between interrupt checks.
	CheckFrequency = 100

	// stringTraversalCostFactor and regexStringLengthCostFactor are cel-go's (common/cost.go).
	stringTraversalCostFactor   = 0.1
	regexStringLengthCostFactor = 0.25
	// authzCheckCost: an authorization check is priced so that an expression can make only two.
	authzCheckCost = 350000
)

// ErrOutOfBudget is returned when a policy's evaluation spends more than its budget, with upstream's text.
var ErrOutOfBudget = errors.New("validation failed due to running out of cost budget, no further validation rules will be run")

// CostEstimator is the interpreter.ActualCostEstimator of every skiff CEL program.
type CostEstimator struct{}

func ptr(c uint64) *uint64 { return &c }

func strCost(v ref.Val, factor float64) uint64 {
	return uint64(math.Ceil(float64(actualSize(v)) * factor * stringTraversalCostFactor))
}

// CallCost implements interpreter.ActualCostEstimator; nil leaves the call to cel-go's default pricing.
func (CostEstimator) CallCost(function, overloadID string, args []ref.Val, result ref.Val) *uint64 {
	arg := func(i int) ref.Val {
		if i < len(args) {
			return args[i]
		}
		return types.NullValue
	}
	switch function {
	case "check":
		return ptr(authzCheckCost)
	case "serviceAccount", "path", "group", "resource", "subresource", "namespace", "name", "allowed", "reason",
		"error", "errored", "sign", "asInteger", "isInteger", "asApproximateFloat", "isGreaterThan", "isLessThan",
		"compareTo", "add", "sub", "masked", "prefixLength", "family", "isUnspecified", "isLoopback",
		"isLinkLocalMulticast", "isLinkLocalUnicast", "isGlobalUnicast", "isMask":
		return ptr(1)
	case "isSorted", "sum", "max", "min", "indexOf", "lastIndexOf":
		// One traversal of the list (plus its strings), or of the string (strings' indexOf).
		return ptr(traversalCost(arg(0)))
	case "url", "isURL", "lowerAscii", "upperAscii", "substring", "trim", "charAt", "quantity", "isQuantity",
		"cidr", "isIP", "isCIDR", "jsonpatch.escapeKey", "base64.decode", "getScheme", "getHost", "getHostname",
		"getPort", "getEscapedPath", "getQuery":
		return ptr(strCost(arg(0), 1) + strCost(result, 1))
	case "ip":
		if overloadID == "cidr_ip" {
			return ptr(1)
		}
		return ptr(strCost(arg(0), 1))
	case "ip.isCanonical":
		return ptr(strCost(arg(0), 2))
	case "containsIP", "containsCIDR":
		return ptr(strCost(arg(0), 3) + strCost(arg(1), 1) + 1)
	case "replace", "split":
		// The traversal plus the construction of the result (which replace can make much larger).
		return ptr(strCost(arg(0), 2) + strCost(result, 1))
	case "join", "format", "base64.encode", "strings.quote", "reverse":
		// The result is built: priced by its size.
		return ptr(strCost(arg(0), 1) + strCost(result, 2))
	case "find", "findAll":
		s := uint64(math.Ceil((1 + float64(actualSize(arg(0)))) * stringTraversalCostFactor))
		re := uint64(math.Ceil(float64(actualSize(arg(1))) * regexStringLengthCostFactor))
		return ptr(s*re + strCost(result, 1))
	case "math.greatest", "math.least":
		var c uint64 = 1
		for _, a := range args {
			c += traversalCost(a)
		}
		return ptr(c)
	}
	return nil
}

// actualSize is the size of a string, bytes, list or map (cel-go's definition), 1 for anything else.
func actualSize(v ref.Val) uint64 {
	if v == nil {
		return 1
	}
	if sz, ok := v.(traits.Sizer); ok {
		if n, ok := sz.Size().(types.Int); ok && n >= 0 {
			return uint64(n)
		}
	}
	if o, ok := v.(*types.Optional); ok && o.HasValue() {
		return actualSize(o.GetValue())
	}
	return 1
}

// traversalCost is the cost of one pass over a list (1 per element, plus the size of string elements), or
// over a string.
func traversalCost(v ref.Val) uint64 {
	switch x := v.(type) {
	case types.String, types.Bytes:
		return strCost(x, 1)
	case traits.Lister:
		var c uint64
		for it := x.Iterator(); it.HasNext() == types.True; {
			e := it.Next()
			c++
			switch e.(type) {
			case types.String, types.Bytes:
				c += strCost(e, 1)
			}
		}
		return c
	}
	return 1
}

// ProgramOptions are the options of every skiff CEL program: the per-call limit, size-aware cost
// tracking and interrupt checks in comprehensions.
func ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{cel.CostLimit(PerCallLimit), cel.CostTracking(CostEstimator{}), cel.InterruptCheckFrequency(CheckFrequency)}
}

// Budget is what remains of a cost budget; Charge spends cost and fails with ErrOutOfBudget past it.
type Budget struct{ Remaining int64 }

// NewBudget returns a budget of n.
func NewBudget(n int64) *Budget { return &Budget{Remaining: n} }

// Charge spends cost.
func (b *Budget) Charge(cost uint64) error {
	if b == nil {
		return nil
	}
	if cost > math.MaxInt64 || int64(cost) > b.Remaining {
		b.Remaining = -1
		return ErrOutOfBudget
	}
	b.Remaining -= int64(cost)
	return nil
}

// EvalCost runs prg and returns its actual cost along with the result.
func EvalCost(prg cel.Program, act any) (ref.Val, uint64, error) {
	v, det, err := prg.Eval(act)
	var cost uint64
	if det != nil && det.ActualCost() != nil {
		cost = *det.ActualCost()
	}
	return v, cost, err
}
