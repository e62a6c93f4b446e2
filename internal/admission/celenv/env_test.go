package celenv

import (
	"context"
	"github.com/google/cel-go/cel"
	"strings"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"skiff/internal/auth"
)

type fakeAuthz struct{}

func (fakeAuthz) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.User != nil && a.User.Name == "alice" && a.Verb == "get" && a.Resource == "secrets" && a.Namespace == "ns1" {
		return auth.DecisionAllow, "rbac says yes", nil
	}
	if a.User != nil && a.User.Name == "system:serviceaccount:ns1:sa" && a.Path == "/healthz" {
		return auth.DecisionAllow, "", nil
	}
	return auth.DecisionNoOpinion, "no rule", nil
}

func eval(t *testing.T, expr string, vars map[string]any, varNames ...string) ref.Val {
	t.Helper()
	var vs []Var
	for _, n := range varNames {
		vs = append(vs, Var{Name: n})
	}
	env, err := WithVariables(true, vs)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, expr, Any, false)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	full := map[string]any{Object: nil, OldObject: nil, Request: nil, Params: nil, NamespaceObject: nil}
	for k, v := range vars {
		full[k] = v
	}
	val, _, err := prg.Eval(full)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return val
}

func TestExpressions(t *testing.T) {
	obj, err := FromJSON([]byte(`{"spec":{"replicas":3,"ratio":0.5,"names":["b","a"]},"metadata":{"name":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	az := &Authz{Ctx: context.Background(), Authorizer: fakeAuthz{}, User: &auth.User{Name: "alice"}}
	vars := map[string]any{Object: obj, Params: map[string]any{"data": map[string]any{"max": "5"}},
		Authorizer: AuthorizerVal(az), RequestResource: RequestResourceVal(az, "", "v1", "secrets", "", "ns1", "s")}
	for expr, want := range map[string]any{
		"object.spec.replicas <= int(params.data.max)":                                     true,
		"object.spec.replicas > 2.5":                                                       true,
		"object.spec.ratio < 1":                                                            true,
		"[1, 2, 3].isSorted() && ![3, 1].isSorted()":                                       true,
		"[1, 2, 3].sum()":                                                                  int64(6),
		"[4, 2, 9].min() == 2 && [4, 2, 9].max() == 9":                                     true,
		"[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2":                       true,
		"'abc123def456'.find('[0-9]+')":                                                    "123",
		"'abc123def456'.findAll('[0-9]+').size() == 2":                                     true,
		"'abc123def456'.findAll('[0-9]+', 1) == ['123']":                                   true,
		"quantity('1Gi').isGreaterThan(quantity('1000Mi'))":                                true,
		"quantity('500m').add(1).compareTo(quantity('1.5')) == 0":                          true,
		"isQuantity('1x1') == false && quantity('2k').asInteger() == 2000":                 true,
		"url('https://example.com:8443/a/b?x=1').getPort() == '8443'":                      true,
		"url('https://example.com/a').getHostname()":                                       "example.com",
		"isURL('not a url') == false":                                                      true,
		"ip('10.0.0.1').family() == 4 && cidr('10.0.0.0/8').containsIP('10.1.2.3')":        true,
		"'a,b'.split(',').size() == 2 && sets.contains([1,2], [1])":                        true,
		"base64.encode(b'hi')":                                                             "aGk=",
		"math.greatest(1, 5, 3)":                                                           int64(5),
		"authorizer.group('').resource('secrets').namespace('ns1').check('get').allowed()": true,
		"authorizer.group('').resource('secrets').namespace('ns2').check('get').allowed()": false,
		"authorizer.group('').resource('secrets').namespace('ns2').check('get').reason()":  "no rule",
		"authorizer.requestResource.check('get').allowed()":                                true,
		"authorizer.serviceAccount('ns1', 'sa').path('/healthz').check('get').allowed()":   true,
		"object.spec.names.sort() == ['a', 'b']":                                           true,
	} {
		got := eval(t, expr, vars)
		if got.Value() != want {
			t.Errorf("%s = %v (%T), want %v", expr, got.Value(), got.Value(), want)
		}
	}
}

func TestVariablesLazy(t *testing.T) {
	calls := 0
	v := Lazy(func() ref.Val { calls++; return types.Int(7) })
	got := eval(t, "variables.a + variables.a + (false ? variables.b : 0)", map[string]any{"variables.a": v,
		"variables.b": Lazy(func() ref.Val { t.Fatal("b evaluated"); return nil })}, "a", "b")
	if got.Value() != int64(14) || calls != 1 {
		t.Fatalf("got %v, calls %d", got, calls)
	}
}

func TestCompileErrors(t *testing.T) {
	env, _ := Base()
	if _, err := Compile(env, "object.spec.replicas <", Bool, false); err == nil || !strings.Contains(err.Error(), "compilation failed") {
		t.Fatalf("syntax error: %v", err)
	}
	if _, err := Compile(env, "'x'", Bool, false); err == nil || !strings.Contains(err.Error(), "must evaluate to bool") {
		t.Fatalf("type: %v", err)
	}
	if _, err := Compile(env, "variables.nope == 1", Bool, false); err == nil {
		t.Fatal("undeclared variable compiled")
	}
	if _, err := Compile(env, "null", String, true); err != nil {
		t.Fatalf("null for a nullable string: %v", err)
	}
}

func TestCostLimit(t *testing.T) {
	env, _ := Base()
	prg, err := Compile(env, "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))", Bool, false)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = prg.Eval(map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("runaway expression: %v", err)
	}
}

// As upstream: the result type must be exactly the required one (dyn refused), and params is declared only
// for a policy with a paramKind.
func TestCompileExactResultTypesAndParams(t *testing.T) {
	env, err := WithVariables(false, []Var{{Name: "b", Type: Bool}, {Name: "d"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		expr     string
		want     *cel.Type
		nullable bool
		err      string
	}{
		{"object.spec.enabled", Bool, false, "must evaluate to bool but got dyn"},
		{"object.metadata.name", String, false, "must evaluate to string but got dyn"},
		{"object.metadata.name", String, true, "must evaluate to one of [string null_type] but got dyn"},
		{"variables.d", Bool, false, "must evaluate to bool but got dyn"},
		{"params.x == 1", Bool, false, "undeclared reference to 'params'"},
		{"object.spec.enabled == true", Bool, false, ""},
		{"variables.b", Bool, false, ""},
		{"null", String, true, ""},
		{"'a' + object.metadata.name", String, false, ""},
	} {
		_, err := Compile(env, c.expr, c.want, c.nullable)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: got %v, want %q", c.expr, err, c.err)
		}
	}
	withParams, _ := WithVariables(true, nil)
	if _, err := Compile(withParams, "params.x == 1", Bool, false); err != nil {
		t.Fatal(err)
	}
}

type recordingAuthz struct{ user *auth.User }

func (r *recordingAuthz) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	r.user = a.User
	return auth.DecisionAllow, "", nil
}

// authorizer.serviceAccount(ns, name) checks as the service account with only its two groups (upstream's
// ServiceAccountInfo.UserInfo(), no system:authenticated).
func TestServiceAccountAuthorizerGroups(t *testing.T) {
	rec := &recordingAuthz{}
	az := &Authz{Ctx: context.Background(), Authorizer: rec, User: &auth.User{Name: "alice"}}
	val := eval(t, "authorizer.serviceAccount('ns1', 'sa').path('/healthz').check('get').allowed()", map[string]any{Authorizer: AuthorizerVal(az)})
	if val.Value() != true || rec.user == nil {
		t.Fatalf("got %v, user %+v", val, rec.user)
	}
	if rec.user.Name != "system:serviceaccount:ns1:sa" || strings.Join(rec.user.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:ns1" {
		t.Fatalf("user %+v", rec.user)
	}
}
