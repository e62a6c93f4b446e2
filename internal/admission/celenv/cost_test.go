package celenv

import (
	"strconv"
	"strings"
	"testing"
)

// Library calls that build large values are priced by size: nested cel.bind + join doubles a string at
// each level for a cost of 1 per call without size-aware pricing, and must hit the per-call limit.
func TestCostLibraryCallsPricedBySize(t *testing.T) {
	env, err := Base()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`cel.bind(s0, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", `)
	depth := 10 // 64 * 4^10 bytes (64 MiB) without size-aware pricing
	for i := 1; i <= depth; i++ {
		p := "s" + itoa(i-1)
		b.WriteString("cel.bind(s" + itoa(i) + ", [" + p + ", " + p + ", " + p + ", " + p + "].join(), ")
	}
	b.WriteString("size(s" + itoa(depth) + ") > 0")
	b.WriteString(strings.Repeat(")", depth+1))
	prg, err := Compile(env, b.String(), Bool, false)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = prg.Eval(map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "actual cost limit exceeded") {
		t.Fatalf("got %v, want the cost limit exceeded", err)
	}

	// replace doubling the string 22 times (256 MiB), format multiplying it by 8 six times (24 MiB).
	var r, f strings.Builder
	r.WriteString(`cel.bind(s0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", `)
	f.WriteString(`cel.bind(s0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", `)
	for i := 1; i <= 22; i++ {
		r.WriteString("cel.bind(s" + itoa(i) + ", s" + itoa(i-1) + `.replace("a", "aa"), `)
	}
	for i := 1; i <= 6; i++ {
		p := "s" + itoa(i-1)
		f.WriteString("cel.bind(s" + itoa(i) + `, "%s%s%s%s%s%s%s%s".format([` + strings.Repeat(p+", ", 7) + p + "]), ")
	}
	r.WriteString("size(s22) > 0" + strings.Repeat(")", 23))
	f.WriteString("size(s6) > 0" + strings.Repeat(")", 7))
	for _, expr := range []string{r.String(), f.String()} {
		prg, err := Compile(env, expr, Bool, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := prg.Eval(map[string]any{}); err == nil || !strings.Contains(err.Error(), "actual cost limit exceeded") {
			t.Errorf("%.60s...: got %v, want the cost limit exceeded", expr, err)
		}
	}
}

func TestCostSmallExpressionsCheap(t *testing.T) {
	env, _ := Base()
	prg, err := Compile(env, `["a", "b"].join("-") == "a-b" && "a,b".split(",").size() == 2 && "abc".find("b") == "b"`, Bool, false)
	if err != nil {
		t.Fatal(err)
	}
	v, cost, err := EvalCost(prg, map[string]any{})
	if err != nil || v.Value() != true {
		t.Fatalf("got %v, %v", v, err)
	}
	if cost > 100 {
		t.Errorf("cost %d, want small", cost)
	}
	b := NewBudget(RuntimeCELCostBudget)
	if err := b.Charge(RuntimeCELCostBudget); err != nil {
		t.Fatal(err)
	}
	if err := b.Charge(1); err != ErrOutOfBudget {
		t.Fatalf("got %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
