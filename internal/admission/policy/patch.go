package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"skiff/internal/admission"
	"skiff/internal/admission/celenv"
	"skiff/internal/apiserver/defaults"
)

var (
	typeConverterOnce sync.Once
	typeConverter     managedfields.TypeConverter
)

// smdTypes is the structured-merge-diff schema of the built-in types: the one skiff's server-side apply
// uses (client-go's, with upstream's list keys and atomic markers), so lists merge by their keys.
func smdTypes() managedfields.TypeConverter {
	typeConverterOnce.Do(func() { typeConverter = applyconfigurations.NewTypeConverter(clientgoscheme.Scheme) })
	return typeConverter
}

// jsonPatchOps turns a JSONPatch expression's result into an RFC 6902 patch.
func jsonPatchOps(v ref.Val) (jsonpatch.Patch, error) {
	l, ok := v.(traits.Lister)
	if !ok {
		return nil, fmt.Errorf("type mismatch: JSONPatchType.expression should evaluate to array")
	}
	raw := func(s string) *json.RawMessage { m := json.RawMessage(strconv.Quote(s)); return &m }
	var patch jsonpatch.Patch
	for it := l.Iterator(); it.HasNext() == types.True; {
		op, ok := it.Next().(*celenv.JSONPatchVal)
		if !ok {
			return nil, fmt.Errorf("type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch")
		}
		o := jsonpatch.Operation{"op": raw(op.Op), "path": raw(op.Path)}
		if op.From != "" {
			o["from"] = raw(op.From)
		}
		if op.Val != nil {
			if ov, ok := op.Val.(*celenv.ObjectVal); ok {
				if err := ov.CheckTypeNames(); err != nil {
					return nil, fmt.Errorf("type mismatch: %w", err)
				}
			}
			n, err := celenv.Native(op.Val)
			if err != nil {
				return nil, fmt.Errorf("JSONPath valueExpression evaluated to a type that could not marshal to JSON: %w", err)
			}
			b, err := json.Marshal(n)
			if err != nil {
				return nil, fmt.Errorf("JSONPath valueExpression evaluated to a type that could not marshal to JSON: %w", err)
			}
			m := json.RawMessage(b)
			o["value"] = &m
		}
		patch = append(patch, o)
	}
	return patch, nil
}

// applyJSONPatch applies the patch to the object in place. A failed "test" operation leaves the object as it
// is (as upstream); a result that does not decode strictly into the object's type is an internal error.
func applyJSONPatch(a *admission.Attributes, patch jsonpatch.Patch) error {
	cur, err := objectJSON(a)
	if err != nil {
		return err
	}
	patched, err := patch.Apply(cur)
	if err != nil {
		if errors.Is(err, jsonpatch.ErrTestFailed) {
			return nil
		}
		return fmt.Errorf("JSONPath: %w", err)
	}
	fresh, err := newLike(a.Object)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(patched))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fresh); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("decoding the patched object: %w", err))
	}
	return replace(a, fresh)
}

// applyConfiguration merges an Object{...} apply configuration into the object with server-side apply
// semantics (structured-merge-diff: maps merge, lists with keys merge by key, atomic lists are replaced).
// As upstream, a configuration that sets an atomic list, map or struct is refused, since it would drop the
// fields it does not list; no field ownership is recorded.
func applyConfiguration(a *admission.Attributes, v ref.Val) error {
	ov, ok := v.(*celenv.ObjectVal)
	if !ok {
		return fmt.Errorf("unsupported return type from ApplyConfiguration expression: %v", v.Type())
	}
	if err := ov.CheckTypeNames(); err != nil {
		return fmt.Errorf("type mismatch: %w", err)
	}
	cfg, err := ov.Native()
	if err != nil {
		return fmt.Errorf("invalid return type: %w", err)
	}
	tc := smdTypes()
	patch := &unstructured.Unstructured{Object: cfg}
	patch.SetGroupVersionKind(a.Kind)
	patchTyped, err := tc.ObjectToTyped(patch)
	if err != nil {
		if !clientgoscheme.Scheme.Recognizes(a.Kind) {
			return apierrors.NewServiceUnavailable(fmt.Sprintf("Resource kind %s not found.", a.Kind))
		}
		return fmt.Errorf("error applying patch: failed to convert patch object to typed object: %w", err)
	}
	if atomics := findAtomics(nil, patchTyped.Schema(), patchTyped.TypeRef(), patchTyped.AsValue()); len(atomics) > 0 {
		return fmt.Errorf("error applying patch: invalid ApplyConfiguration: may not mutate atomic arrays, maps or structs: %v", strings.Join(atomics, ", "))
	}
	live := a.Object.DeepCopyObject()
	live.GetObjectKind().SetGroupVersionKind(a.Kind)
	liveTyped, err := tc.ObjectToTyped(live)
	if err != nil {
		return fmt.Errorf("error applying patch: failed to convert original object to typed object: %w", err)
	}
	merged, err := liveTyped.Merge(patchTyped)
	if err != nil {
		return fmt.Errorf("error applying patch: failed to merge patch: %w", err)
	}
	out, err := tc.TypedToObject(merged)
	if err != nil {
		return fmt.Errorf("error applying patch: %w", err)
	}
	fresh, err := newLike(a.Object)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(out.(*unstructured.Unstructured).UnstructuredContent(), fresh); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("decoding the patched object: %w", err))
	}
	return replace(a, fresh)
}

// findAtomics lists the paths of atomic lists, maps and structs an apply configuration sets.
func findAtomics(path []fieldpath.PathElement, s *schema.Schema, tr schema.TypeRef, v value.Value) []string {
	a, ok := s.Resolve(tr)
	if !ok {
		return nil
	}
	var out []string
	if v.IsMap() && a.Map != nil {
		if a.Map.ElementRelationship == schema.Atomic {
			out = append(out, pathString(path))
		}
		v.AsMap().Iterate(func(key string, val value.Value) bool {
			if sf, ok := a.Map.FindField(key); ok {
				k := key
				out = append(out, findAtomics(append(append([]fieldpath.PathElement{}, path...), fieldpath.PathElement{FieldName: &k}), s, sf.Type, val)...)
			}
			return true
		})
	}
	if v.IsList() && a.List != nil {
		if a.List.ElementRelationship == schema.Atomic {
			out = append(out, pathString(path))
		}
		l := v.AsList()
		for i := 0; i < l.Length(); i++ {
			idx := i
			out = append(out, findAtomics(append(append([]fieldpath.PathElement{}, path...), fieldpath.PathElement{Index: &idx}), s, a.List.ElementType, l.At(i))...)
		}
	}
	return out
}

func pathString(path []fieldpath.PathElement) string {
	var sb strings.Builder
	for _, p := range path {
		sb.WriteString(p.String())
	}
	return sb.String()
}

// objectJSON is the object's JSON with the request's kind.
func objectJSON(a *admission.Attributes) ([]byte, error) {
	c := a.Object.DeepCopyObject()
	c.GetObjectKind().SetGroupVersionKind(a.Kind)
	return json.Marshal(c)
}

func newLike(obj runtime.Object) (runtime.Object, error) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("cannot patch %T", obj)
	}
	return reflect.New(v.Elem().Type()).Interface().(runtime.Object), nil
}

// replace puts the mutated object in place of the request's (same type) and defaults it again, as upstream
// decodes a patched object with defaulting.
func replace(a *admission.Attributes, fresh runtime.Object) error {
	gvk := a.Object.GetObjectKind().GroupVersionKind()
	fresh.GetObjectKind().SetGroupVersionKind(gvk)
	reflect.ValueOf(a.Object).Elem().Set(reflect.ValueOf(fresh).Elem())
	defaults.Default(a.Object)
	return nil
}
