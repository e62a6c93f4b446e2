package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

var (
	strictJSON = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, kjson.SerializerOptions{Strict: true})
	laxJSON    = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, kjson.SerializerOptions{})
	protoSer   = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
)

// readBody reads at most limit bytes; a larger body is 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error reading request body: %v", err))
	}
	return data, nil
}

// fieldValidation returns the request's fieldValidation directive: Strict, Warn (the default) or Ignore.
func fieldValidation(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch strings.ToLower(v) {
	case "":
		return "Warn", nil
	case "strict":
		return "Strict", nil
	case "warn":
		return "Warn", nil
	case "ignore":
		return "Ignore", nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got %q", v))
}

// toJSON turns a JSON or YAML body into JSON, reporting duplicate YAML keys as strict errors.
func toJSON(data []byte, contentType string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && contentType != "" {
		return nil, unsupportedMediaType(contentType)
	}
	switch mt {
	case "", runtime.ContentTypeJSON:
		return data, nil
	case runtime.ContentTypeYAML, "application/apply-patch+yaml":
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error converting YAML to JSON: %v", err))
		}
		return j, nil
	}
	return nil, unsupportedMediaType(contentType)
}

// decodeObject decodes a request body into a new object of the resource's kind. It refuses a body of another
// kind or version, malformed input, and (with fieldValidation=Strict) unknown or duplicate fields. Warnings for
// fieldValidation=Warn are returned.
func (s *Server) decodeObject(r *http.Request, data []byte, gvk schema.GroupVersionKind, newFunc func() runtime.Object) (runtime.Object, []string, error) {
	mode, err := fieldValidation(r)
	if err != nil {
		return nil, nil, err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt == runtime.ContentTypeProtobuf {
		obj, got, err := protoSer.Decode(data, &gvk, newFunc())
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
		if err := checkKind(*got, gvk); err != nil {
			return nil, nil, err
		}
		return obj, nil, nil
	}
	jsonData, err := toJSON(data, ct)
	if err != nil {
		return nil, nil, err
	}
	return decodeJSON(jsonData, gvk, newFunc, mode)
}

func decodeJSON(data []byte, gvk schema.GroupVersionKind, newFunc func() runtime.Object, mode string) (runtime.Object, []string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, apierrors.NewBadRequest("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
	}
	got, err := kjson.DefaultMetaFactory.Interpret(data)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): couldn't get version/kind; json parse error: %v", gvk.Kind, err))
	}
	if err := checkKind(*got, gvk); err != nil {
		return nil, nil, err
	}
	ser := strictJSON
	if mode == "Ignore" {
		ser = laxJSON
	}
	obj, _, err := ser.Decode(data, &gvk, newFunc())
	var warnings []string
	if err != nil {
		strict, isStrict := runtime.AsStrictDecodingError(err)
		if !isStrict {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v", gvk.Kind, err))
		}
		if mode == "Strict" {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
		for _, e := range strict.Errors() {
			warnings = append(warnings, e.Error())
		}
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, warnings, nil
}

func checkKind(got, want schema.GroupVersionKind) error {
	if got.Group == "" && got.Version == "" && got.Kind == "" {
		return nil
	}
	if got.Kind == want.Kind && (want.Kind == "DeleteOptions" || want.Kind == "Eviction" && got.Group == "policy") {
		// Typed clients stamp their own group/version on options (apps/v1 DeleteOptions, ...), as upstream allows.
		return nil
	}
	if (got.Version != "" || got.Group != "") && got.GroupVersion() != want.GroupVersion() {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), want.GroupVersion()))
	}
	if got.Kind != "" && got.Kind != want.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", got.Kind, want.Kind))
	}
	return nil
}

// addWarnings sends warnings as upstream does: Warning: 299 - "text".
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

func unsupportedMediaType(ct string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got %q)", ct), 0, false)
}
