package printers

import (
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// rowFunc builds the row of one object. Cells must line up with the
// handler's columns; Object is left empty for the caller.
type rowFunc func(obj runtime.Object, now time.Time) (metav1.TableRow, error)

// handler is what the package knows about one Go type.
type handler struct {
	columns []metav1.TableColumnDefinition
	row     rowFunc
}

// handlers is keyed by the concrete Go type (e.g. *corev1.Pod). It is only
// written during package initialisation, so reads need no locking.
var handlers = map[reflect.Type]*handler{}

// registerRow adds a printer that needs the whole row (pods set row
// conditions) or can fail.
func registerRow[T runtime.Object](columns []metav1.TableColumnDefinition, fn func(T, time.Time) (metav1.TableRow, error)) {
	var zero T
	t := reflect.TypeOf(zero)
	if t == nil {
		// T must be a concrete pointer type, never an interface.
		panic("printers: register needs a concrete type")
	}
	if _, dup := handlers[t]; dup {
		panic(fmt.Sprintf("printers: %v registered twice", t))
	}
	handlers[t] = &handler{
		columns: columns,
		row: func(obj runtime.Object, now time.Time) (metav1.TableRow, error) {
			return fn(obj.(T), now)
		},
	}
}

// register adds a printer that only produces cells, which is almost all.
func register[T runtime.Object](columns []metav1.TableColumnDefinition, fn func(T, time.Time) []any) {
	registerRow(columns, func(obj T, now time.Time) (metav1.TableRow, error) {
		return metav1.TableRow{Cells: fn(obj, now)}, nil
	})
}

// fallback mirrors the apiserver's default table convertor, used upstream
// for every resource without a dedicated printer: name plus the creation
// timestamp as an RFC 3339 date (kubectl shows that column as "CREATED AT").
var fallback = &handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
	},
	row: func(obj runtime.Object, _ time.Time) (metav1.TableRow, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return metav1.TableRow{}, fmt.Errorf("cannot print %T as a table: %w", obj, err)
		}
		return metav1.TableRow{Cells: []any{
			m.GetName(),
			m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339),
		}}, nil
	},
}

func handlerFor(obj runtime.Object) *handler {
	if obj == nil {
		return fallback
	}
	if h, ok := handlers[reflect.TypeOf(obj)]; ok {
		return h
	}
	return fallback
}

// Table returns the column definitions and one row per object (rows in the
// given order). objs are all of one kind. now is injected for AGE columns.
// Row.Object is left empty (the caller fills it per includeObject).
//
// The table carries meta.k8s.io/v1 Table type meta so it can be encoded as
// is; list metadata (resourceVersion, continue) is the caller's to set. With
// no objects the generic Name/Created At columns are returned: callers that
// know the kind should use Columns for empty lists.
func Table(objs []runtime.Object, now time.Time) (*metav1.Table, error) {
	var h *handler
	if len(objs) > 0 {
		h = handlerFor(objs[0])
	} else {
		h = fallback
	}
	table := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{APIVersion: metav1.SchemeGroupVersion.String(), Kind: "Table"},
		ColumnDefinitions: cloneColumns(h.columns),
		Rows:              make([]metav1.TableRow, 0, len(objs)),
	}
	for i, obj := range objs {
		if obj == nil {
			return nil, fmt.Errorf("printers: object %d is nil", i)
		}
		if oh := handlerFor(obj); oh != h {
			return nil, fmt.Errorf("printers: object %d is a %T, not the same kind as %T", i, obj, objs[0])
		}
		row, err := h.row(obj, now)
		if err != nil {
			return nil, err
		}
		// Upstream's table generator refuses mismatched rows too; a short
		// row would make kubectl print cells under the wrong headers.
		if len(row.Cells) != len(h.columns) {
			return nil, fmt.Errorf("printers: %T row has %d cells for %d columns", obj, len(row.Cells), len(h.columns))
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

// Columns returns just the column definitions for an object of that kind
// (for empty lists and watch). Unknown kinds, and nil, get the generic
// Name/Created At columns.
func Columns(obj runtime.Object) []metav1.TableColumnDefinition {
	return cloneColumns(handlerFor(obj).columns)
}

// cloneColumns hands out a copy so callers cannot corrupt the shared
// definitions.
func cloneColumns(cols []metav1.TableColumnDefinition) []metav1.TableColumnDefinition {
	out := make([]metav1.TableColumnDefinition, len(cols))
	copy(out, cols)
	return out
}
