package validation

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff/internal/apiserver/defaults"
)

// wantErr names one expected error: its type, its field path and, when
// set, a fragment of its detail.
type wantErr struct {
	typ    field.ErrorType
	field  string
	detail string
}

// check runs Default then Validate (or ValidateUpdate when old is set), as
// the server does, and compares against want. An empty want means valid.
func check(t *testing.T, obj, old runtime.Object, want ...wantErr) {
	t.Helper()
	defaults.Default(obj)
	var errs field.ErrorList
	if old != nil {
		defaults.Default(old)
		errs = ValidateUpdate(obj, old)
	} else {
		errs = Validate(obj)
	}
	expectErrs(t, errs, want...)
}

func expectErrs(t *testing.T, errs field.ErrorList, want ...wantErr) {
	t.Helper()
	if len(want) == 0 {
		if len(errs) != 0 {
			t.Fatalf("expected no errors, got:\n%s", dump(errs))
		}
		return
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			if e.Type == w.typ && e.Field == w.field && strings.Contains(e.Detail, w.detail) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing %s error on %q (detail containing %q); got:\n%s", w.typ, w.field, w.detail, dump(errs))
		}
	}
}

func dump(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + string(e.Type) + " " + e.Field + ": " + e.Detail + "\n")
	}
	return b.String()
}

var (
	req   = field.ErrorTypeRequired
	inv   = field.ErrorTypeInvalid
	unsup = field.ErrorTypeNotSupported
	forb  = field.ErrorTypeForbidden
	dup   = field.ErrorTypeDuplicate
	nf    = field.ErrorTypeNotFound
	long  = field.ErrorTypeTooLong
)
