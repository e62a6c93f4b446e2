package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/gnostic-models/compiler"
	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	yaml "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
)

// toProtoV2 converts the v2 JSON document into the gnostic protobuf form
// kubectl downloads by default.
//
// openapi_v2.ParseDocument would do, but it runs a YAML parser over several
// megabytes of JSON, which dominates New. JSON is a subset of YAML, so we
// build the same yaml.Node tree with the (much faster) JSON tokenizer and
// hand it to gnostic's compiler directly. proto_test.go checks the result
// against ParseDocument.
func toProtoV2(jsonDoc []byte) ([]byte, error) {
	root, err := jsonToYAMLNode(jsonDoc)
	if err != nil {
		return nil, err
	}
	doc, err := openapi_v2.NewDocument(root, compiler.NewContextWithExtensions("$root", root, nil, nil))
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(doc)
}

// jsonToYAMLNode parses JSON into the node tree yaml.v3 would produce for it
// (flow style collections, double-quoted strings, resolved scalar tags).
func jsonToYAMLNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("openapi: trailing data after JSON document")
	}
	return n, nil
}

func readNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("openapi: unexpected object key %v", kt)
				}
				val, err := readNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, stringNode(key), val)
			}
			_, err := dec.Token() // '}'
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
			for dec.More() {
				val, err := readNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, val)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
		return nil, fmt.Errorf("openapi: unexpected delimiter %v", v)
	case string:
		return stringNode(v), nil
	case json.Number:
		s := string(v)
		if strings.ContainsAny(s, ".eE") {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: s}, nil
	case bool:
		val := "false"
		if v {
			val = "true"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: val}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("openapi: unexpected JSON token %T", tok)
}

func stringNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}
