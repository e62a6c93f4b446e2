package openapi

import (
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	protomodels "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/util/proto/validation"
)

// The protobuf form must decode with gnostic and equal what gnostic's own
// (slow, YAML-based) parser makes of the JSON form.
func TestV2ProtobufRoundTrip(t *testing.T) {
	s := testSpec(t)
	var got openapi_v2.Document
	if err := proto.Unmarshal(s.v2Proto, &got); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	want, err := openapi_v2.ParseDocument(s.v2JSON)
	if err != nil {
		t.Fatalf("ParseDocument(v2 JSON): %v", err)
	}
	if !proto.Equal(&got, want) {
		t.Fatal("protobuf form differs from gnostic's parse of the JSON form")
	}
	if got.GetSwagger() != "2.0" || got.GetInfo().GetVersion() != "v1.37.2" {
		t.Errorf("swagger %q info %v", got.GetSwagger(), got.GetInfo())
	}
	models, err := protomodels.NewOpenAPIData(&got)
	if err != nil {
		t.Fatalf("kube-openapi proto models: %v", err)
	}
	pod := models.LookupModel(podDef)
	if pod == nil {
		t.Fatal("no Pod model")
	}
	obj := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "x"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "i"}}}}
	if errs := validation.ValidateModel(obj, pod, "Pod"); len(errs) != 0 {
		t.Errorf("valid pod: %v", errs)
	}
}

func TestJSONToYAMLNodeRejectsGarbage(t *testing.T) {
	for _, in := range []string{`{"a":1} x`, `{"a":`, `[1,2`} {
		if _, err := jsonToYAMLNode([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
