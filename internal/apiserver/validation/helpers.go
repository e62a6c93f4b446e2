package validation

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	isNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg
	fieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg
	isNotIntegerErrorMsg   = "must be an integer"
	isNotPositiveErrorMsg  = "must be greater than zero"
	fileModeErrorMsg       = "must be a number between 0 and 0777 (octal), both inclusive"
)

func nonNegative(v int64, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(v, p)
}

// immutable compares semantically (quantities by value), like upstream.
func immutable(newVal, oldVal any, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newVal, oldVal, p)
}

func dns1123Label(v string, p *field.Path) field.ErrorList {
	return msgs(validation.IsDNS1123Label(v), v, p)
}

func dns1123Subdomain(v string, p *field.Path) field.ErrorList {
	return msgs(validation.IsDNS1123Subdomain(v), v, p)
}

func qualifiedName(v string, p *field.Path) field.ErrorList {
	return msgs(validation.IsQualifiedName(v), v, p)
}

// msgs turns the []string results of the apimachinery predicates into
// Invalid errors on one field.
func msgs(list []string, v any, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, m := range list {
		errs = append(errs, field.Invalid(p, v, m))
	}
	return errs
}

// name validates a reference to another object by that object's name rule.
func name(fn func(string, bool) []string, v string, p *field.Path) field.ErrorList {
	return msgs(fn(v, false), v, p)
}

// oneOf reports NotSupported unless v is one of valid ("" included only when
// listed).
func oneOf[T ~string](v T, p *field.Path, valid ...T) field.ErrorList {
	for _, ok := range valid {
		if v == ok {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, v, valid)}
}

// requiredOneOf is oneOf with a Required error for the empty value.
func requiredOneOf[T ~string](v T, p *field.Path, valid ...T) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return oneOf(v, p, valid...)
}

func hasWildcard(list []string) bool {
	for _, s := range list {
		if s == "*" {
			return true
		}
	}
	return false
}

// semanticEqual compares API values the way upstream's immutability checks
// do: quantities by value, times at second precision.
func semanticEqual(a, b any) bool { return apiequality.Semantic.DeepEqual(a, b) }

func validateTemplateAnnotations(a map[string]string, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateAnnotations(a, p)
}
