package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// Patch media types and limits.
const (
	applyPatchYAML = "application/apply-patch+yaml"
	// maxJSONPatchOperations bounds the work one JSON patch can ask for, as upstream does.
	maxJSONPatchOperations = 10000
)

func init() {
	// copy operations can grow a document without bound: cap what they may add, as upstream does.
	jsonpatch.AccumulatedCopySizeLimit = 3 << 20
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource, sub string) {
	out, err := negotiate(s.codecs, r, "Table", "PartialObjectMetadata")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	opts, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	mode, err := fieldValidation(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	force := r.URL.Query().Get("force") == "true"
	if force && mt != applyPatchYAML {
		s.writeError(w, r, apierrors.NewBadRequest("force: Forbidden: may not be specified for non-apply patch"))
		return
	}
	var warnings []string
	var next func(cur runtime.Object) (runtime.Object, error)
	var apply applyFunc
	var applied *unstructured.Unstructured
	switch types.PatchType(mt) {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(body)
		if err != nil {
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err)))
			return
		}
		if len(p) > maxJSONPatchOperations {
			s.writeError(w, r, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(p))))
			return
		}
		next = s.patchWith(res, mode, &warnings, func(cur []byte) ([]byte, error) { return p.Apply(cur) })
	case types.MergePatchType:
		if !json.Valid(body) {
			s.writeError(w, r, apierrors.NewBadRequest("error decoding patch: invalid JSON"))
			return
		}
		next = s.patchWith(res, mode, &warnings, func(cur []byte) ([]byte, error) { return jsonpatch.MergePatch(cur, body) })
	case types.StrategicMergePatchType:
		if !json.Valid(body) {
			s.writeError(w, r, apierrors.NewBadRequest("error decoding patch: invalid JSON"))
			return
		}
		schemaObj := res.New()
		next = s.patchWith(res, mode, &warnings, func(cur []byte) ([]byte, error) {
			return strategicpatch.StrategicMergePatch(cur, body, schemaObj)
		})
	case types.ApplyYAMLPatchType:
		if opts.manager == "" || r.URL.Query().Get("fieldManager") == "" {
			s.writeError(w, r, apierrors.NewBadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"))
			return
		}
		applied = &unstructured.Unstructured{}
		if err := yaml.Unmarshal(body, &applied.Object); err != nil || applied.Object == nil {
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err)))
			return
		}
		if err := checkKind(applied.GroupVersionKind(), res.GVK()); err != nil {
			s.writeError(w, r, err)
			return
		}
		if applied.GetName() != "" && applied.GetName() != ri.Name {
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", applied.GetName(), ri.Name)))
			return
		}
		fm := res.smd.forSub(sub)
		apply = func(cur runtime.Object) (runtime.Object, error) {
			obj, err := fm.Apply(cur, applied.DeepCopy(), opts.manager, force)
			if err != nil {
				return nil, applyError(err)
			}
			return obj, nil
		}
	default:
		s.writeError(w, r, unsupportedMediaType(r.Header.Get("Content-Type")))
		return
	}
	updated, err := s.updateObjectWith(r.Context(), res, ri.Namespace, ri.Name, sub, opts, next, apply)
	code := http.StatusOK
	if apierrors.IsNotFound(err) && apply != nil && sub == "" {
		// Server-side apply creates what does not exist yet.
		updated, err = s.applyCreate(r.Context(), res, ri, applied, opts, force)
		code = http.StatusCreated
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	addWarnings(w, warnings)
	resp, err := s.objectFor(r, out, res, updated)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, code, out, resp)
}

// patchWith returns the update step that patches the current object's JSON and decodes the result.
func (s *Server) patchWith(res *resource, mode string, warnings *[]string, patch func(cur []byte) ([]byte, error)) func(runtime.Object) (runtime.Object, error) {
	return func(cur runtime.Object) (runtime.Object, error) {
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		patched, err := patch(curJSON)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: %v", err))
		}
		obj, warns, err := decodeJSON(patched, res.GVK(), res.New, mode)
		if err != nil {
			if st, ok := err.(apierrors.APIStatus); ok && st.Status().Code == http.StatusBadRequest {
				return nil, apierrors.NewBadRequest(st.Status().Message)
			}
			return nil, err
		}
		*warnings = warns
		curAcc, _ := meta.Accessor(cur)
		acc, _ := meta.Accessor(obj)
		if rv := acc.GetResourceVersion(); rv != "" && rv != curAcc.GetResourceVersion() {
			return nil, conflict(res, curAcc.GetName())
		}
		if acc.GetName() != curAcc.GetName() {
			return nil, apierrors.NewBadRequest("metadata.name: Invalid value: the name may not be changed by a patch")
		}
		return obj, nil
	}
}

func (s *Server) applyCreate(ctx context.Context, res *resource, ri *RequestInfo, applied *unstructured.Unstructured, opts writeOptions, force bool) (runtime.Object, error) {
	empty := res.New()
	acc, _ := meta.Accessor(empty)
	acc.SetName(ri.Name)
	acc.SetNamespace(ri.Namespace)
	empty.GetObjectKind().SetGroupVersionKind(res.GVK())
	obj, err := res.smd.main.Apply(empty, applied.DeepCopy(), opts.manager, force)
	if err != nil {
		return nil, applyError(err)
	}
	opts.applied = true
	return s.createObject(ctx, res, ri.Namespace, obj, opts)
}

func applyError(err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return apierrors.NewBadRequest(err.Error())
}
