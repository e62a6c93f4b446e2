package conversion

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Pair converts between a served version and the storage version of one kind.
type Pair struct {
	// ToStorage converts a served object into the stored kind. stored is the object being updated (nil on
	// create), so that what the served version cannot express survives a write through it.
	ToStorage func(obj, stored runtime.Object) (runtime.Object, error)
	// FromStorage converts a stored object into the served kind.
	FromStorage func(runtime.Object) (runtime.Object, error)
}

type key struct{ served, storage schema.GroupVersionKind }

var pairs = map[key]Pair{}

func register(served, storage schema.GroupVersionKind, p Pair) { pairs[key{served, storage}] = p }

// For returns the conversion between served and storage kinds.
func For(served, storage schema.GroupVersionKind) (Pair, error) {
	p, ok := pairs[key{served, storage}]
	if !ok {
		return Pair{}, fmt.Errorf("no conversion from %s to %s", served, storage)
	}
	return p, nil
}

func wrongType(want string, got runtime.Object) error {
	return fmt.Errorf("conversion: expected %s, got %T", want, got)
}
