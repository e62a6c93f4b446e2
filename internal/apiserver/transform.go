package apiserver

import (
	"bytes"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/apiserver/printers"
)

var (
	tableGVK   = metav1.SchemeGroupVersion.WithKind("Table")
	partialGVK = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata")
	partialLGV = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadataList")
)

// includeObject reads ?includeObject= for tables: None, Metadata (the default) or Object.
func includeObject(r *http.Request) (string, error) {
	switch v := r.URL.Query().Get("includeObject"); v {
	case "":
		return "Metadata", nil
	case "None", "Metadata", "Object":
		return v, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("includeObject must be one of None, Metadata, Object, got %q", v))
	}
}

// toTable renders objects as a Table. withColumns=false leaves the column definitions out (watch events after
// the first).
func toTable(r *http.Request, res *resource, objs []runtime.Object, withColumns bool, now func() (t metav1.Time)) (*metav1.Table, error) {
	inc, err := includeObject(r)
	if err != nil {
		return nil, err
	}
	var table *metav1.Table
	if len(objs) == 0 {
		table = &metav1.Table{ColumnDefinitions: printers.Columns(res.New())}
	} else if table, err = printers.Table(objs, now().Time); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	table.TypeMeta = metav1.TypeMeta{Kind: tableGVK.Kind, APIVersion: tableGVK.GroupVersion().String()}
	if !withColumns {
		table.ColumnDefinitions = nil
	}
	for i := range table.Rows {
		if i >= len(objs) {
			break
		}
		switch inc {
		case "Object":
			table.Rows[i].Object = runtime.RawExtension{Object: objs[i]}
		case "Metadata":
			table.Rows[i].Object = runtime.RawExtension{Object: partialObject(objs[i])}
		}
	}
	return table, nil
}

func partialObject(obj runtime.Object) *metav1.PartialObjectMetadata {
	acc, _ := meta.Accessor(obj)
	p := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: partialGVK.Kind, APIVersion: partialGVK.GroupVersion().String()}}
	if om, ok := acc.(*metav1.ObjectMeta); ok {
		p.ObjectMeta = *om
	} else if acc != nil {
		p.ObjectMeta = metav1.ObjectMeta{Name: acc.GetName(), Namespace: acc.GetNamespace(), UID: acc.GetUID(),
			ResourceVersion: acc.GetResourceVersion(), Labels: acc.GetLabels(), Annotations: acc.GetAnnotations(),
			CreationTimestamp: acc.GetCreationTimestamp(), DeletionTimestamp: acc.GetDeletionTimestamp(),
			OwnerReferences: acc.GetOwnerReferences(), Finalizers: acc.GetFinalizers(), Generation: acc.GetGeneration()}
	}
	return p
}

// objectFor returns what to send for one object given the negotiated ;as= form.
func (s *Server) objectFor(r *http.Request, out output, res *resource, obj runtime.Object) (runtime.Object, error) {
	switch out.as {
	case "Table":
		return toTable(r, res, []runtime.Object{obj}, true, s.metaNow)
	case "PartialObjectMetadata":
		return partialObject(obj), nil
	case "PartialObjectMetadataList":
		return nil, apierrors.NewBadRequest("PartialObjectMetadataList is only for lists")
	}
	return obj, nil
}

// listFor builds the list response (typed list, Table or PartialObjectMetadataList).
func (s *Server) listFor(r *http.Request, out output, res *resource, items []runtime.Object, lm metav1.ListMeta) (runtime.Object, error) {
	switch out.as {
	case "Table":
		t, err := toTable(r, res, items, true, s.metaNow)
		if err != nil {
			return nil, err
		}
		t.ListMeta = lm
		return t, nil
	case "PartialObjectMetadataList", "PartialObjectMetadata":
		l := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: partialLGV.Kind, APIVersion: partialLGV.GroupVersion().String()}, ListMeta: lm}
		for _, it := range items {
			l.Items = append(l.Items, *partialObject(it))
		}
		if l.Items == nil {
			l.Items = []metav1.PartialObjectMetadata{}
		}
		return l, nil
	}
	list := res.NewList()
	if err := meta.SetList(list, items); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	la, err := meta.ListAccessor(list)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	la.SetResourceVersion(lm.ResourceVersion)
	la.SetContinue(lm.Continue)
	la.SetRemainingItemCount(lm.RemainingItemCount)
	list.GetObjectKind().SetGroupVersionKind(res.GroupVersion().WithKind(res.Kind + "List"))
	return list, nil
}

func (s *Server) metaNow() metav1.Time { return metav1.NewTime(s.cfg.Now()) }

// encodeTo encodes obj with the output's plain serializer into bytes (for watch event payloads).
func encodeTo(out output, obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	err := out.info.Serializer.Encode(obj, &buf)
	return buf.Bytes(), err
}
