package celenv

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/traits"
)

func TestMutationTypes(t *testing.T) {
	env, err := MutationWithVariables(false, []Var{{Name: "v"}})
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := FromJSON([]byte(`{"metadata":{"name":"x","labels":{"a/b":"c"}}}`))
	act := map[string]any{Object: obj, OldObject: nil, Request: nil, Params: nil, NamespaceObject: nil, "variables.v": "val"}

	prg, err := CompileExact(env, `[JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("x/y~z"), value: variables.v}]`, cel.ListType(JSONPatchType))
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := prg.Eval(act)
	if err != nil {
		t.Fatal(err)
	}
	it := v.(traits.Lister).Iterator()
	p := it.Next().(*JSONPatchVal)
	if p.Op != "add" || p.Path != "/metadata/labels/x~1y~0z" || p.Val.Value() != "val" {
		t.Errorf("patch %+v", p)
	}

	prg, err = CompileExact(env, `Object{metadata: Object.metadata{labels: {"k": object.metadata.name}}, spec: Object.spec{replicas: 2, list: [Object.spec.list{name: "a"}]}}`, ObjectType)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err = prg.Eval(act)
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*ObjectVal)
	if err := o.CheckTypeNames(); err != nil {
		t.Fatal(err)
	}
	got, err := o.Native()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"metadata": map[string]any{"labels": map[string]any{"k": "x"}},
		"spec": map[string]any{"replicas": int64(2), "list": []any{map[string]any{"name": "a"}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}

	prg, _ = CompileExact(env, `Object{spec: Object.status{}}`, ObjectType)
	v, _, _ = prg.Eval(act)
	if err := v.(*ObjectVal).CheckTypeNames(); err == nil || !strings.Contains(err.Error(), `expected "Object.spec"`) {
		t.Errorf("type name mismatch: %v", err)
	}
	if _, err := CompileExact(env, `object`, ObjectType); err == nil || !strings.Contains(err.Error(), "must evaluate to Object") {
		t.Errorf("dyn result: %v", err)
	}
	if _, err := CompileExact(env, `[JSONPatch{op: 1}]`, cel.ListType(JSONPatchType)); err == nil {
		t.Error("int op accepted")
	}
}
