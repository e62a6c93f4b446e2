package apiserver

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// fieldErr is a one-item Invalid error list for a field path written with dots.
func fieldErr(path string, value any, msg string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}
}
