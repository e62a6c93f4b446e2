package controllerutil

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// OwnerOf resolves a controller reference through a lister's Get (for the dependent's namespace): the
// object named by ref when ref is of the kind (and, unless apiVersion is empty, of that API version) and
// the object has the referenced UID; otherwise the zero T (nil).
func OwnerOf[T metav1.Object](ref *metav1.OwnerReference, kind, apiVersion string, get func(name string) (T, error)) T {
	var none T
	if ref == nil || ref.Kind != kind || (apiVersion != "" && ref.APIVersion != apiVersion) {
		return none
	}
	o, err := get(ref.Name)
	if err != nil || o.GetUID() != ref.UID {
		return none
	}
	return o
}

// Selecting returns the objects whose label selector is valid, not empty, and matches set (the owners
// that could adopt an orphan with these labels).
func Selecting[T any](all []T, selector func(T) *metav1.LabelSelector, set labels.Set) []T {
	var out []T
	for _, o := range all {
		sel, err := metav1.LabelSelectorAsSelector(selector(o))
		if err == nil && !sel.Empty() && sel.Matches(set) {
			out = append(out, o)
		}
	}
	return out
}
