package storage

import (
	"bytes"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// Codec turns objects into the bytes stored in etcd and back. Values are written as upstream writes them:
// Kubernetes protobuf (a "k8s\x00" prefix, then the object with its apiVersion and kind), which is several
// times cheaper to encode and decode than JSON. JSON values (written by earlier skiff versions, or by hand) are
// still read.
type Codec struct {
	scheme *runtime.Scheme
	json   *kjson.Serializer
	proto  *protobuf.Serializer
}

// NewCodec returns a codec over the types registered in scheme.
func NewCodec(scheme *runtime.Scheme) *Codec {
	return &Codec{scheme: scheme, json: kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{}),
		proto: protobuf.NewSerializer(scheme, scheme)}
}

var protoPrefix = []byte("k8s\x00")

// Encode writes obj with its apiVersion/kind and without resourceVersion (etcd's revision is the version).
func (c *Codec) Encode(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := acc.GetResourceVersion()
	acc.SetResourceVersion("")
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	var buf bytes.Buffer
	err = c.proto.Encode(obj, &buf)
	acc.SetResourceVersion(rv)
	return buf.Bytes(), err
}

// Decode reads a stored value into a new object and stamps rev as its resourceVersion.
func (c *Codec) Decode(data []byte, rev int64, newFunc func() runtime.Object) (runtime.Object, error) {
	into := newFunc()
	var obj runtime.Object
	var gvk *schema.GroupVersionKind
	var err error
	if bytes.HasPrefix(data, protoPrefix) {
		obj, gvk, err = c.proto.Decode(data, nil, into)
	} else {
		obj, gvk, err = c.json.Decode(data, nil, into)
	}
	if err != nil {
		return nil, fmt.Errorf("decode stored object: %w", err)
	}
	// Protobuf carries apiVersion/kind outside the object: put them back, responses need them.
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	if err := SetRV(obj, rev); err != nil {
		return nil, err
	}
	return obj, nil
}

// SetRV sets obj's resourceVersion to rev.
func SetRV(obj runtime.Object, rev int64) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

// ParseRV parses a resourceVersion; "" and "0" are 0.
func ParseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid resource version %q", rv)
	}
	return n, nil
}
