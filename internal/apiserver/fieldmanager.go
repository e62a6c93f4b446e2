package apiserver

import (
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"skiff/internal/apiserver/defaults"
	"skiff/internal/apiserver/registry"
)

// fieldManagers track managedFields (server-side apply) for a resource and its status subresource.
type fieldManagers struct {
	main   *managedfields.FieldManager
	status *managedfields.FieldManager
}

var (
	typeConverterOnce sync.Once
	typeConverter     managedfields.TypeConverter
)

// defaulter adapts the defaults package to what the field manager calls after an apply merge.
type defaulter struct{}

func (defaulter) Default(obj runtime.Object) { defaults.Default(obj) }

func newFieldManagers(scheme *runtime.Scheme, r *registry.Resource) (*fieldManagers, error) {
	typeConverterOnce.Do(func() {
		// client-go ships the structured-merge-diff schema of every built-in type: the same list/map semantics
		// (merge keys, atomic lists) upstream's server uses.
		typeConverter = applyconfigurations.NewTypeConverter(scheme)
	})
	gvk := r.GVK()
	reset := map[fieldpath.APIVersion]fieldpath.Filter{}
	statusReset := map[fieldpath.APIVersion]fieldpath.Filter{}
	if r.Status {
		// Changes to status through the main resource are dropped, so they must not be owned there either.
		reset[fieldpath.APIVersion(gvk.GroupVersion().String())] = fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status")))
		statusReset[fieldpath.APIVersion(gvk.GroupVersion().String())] = fieldpath.NewExcludeSetFilter(fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata")))
	}
	main, err := managedfields.NewDefaultFieldManager(typeConverter, scheme, defaulter{}, scheme, gvk, gvk.GroupVersion(), "", reset)
	if err != nil {
		return nil, err
	}
	fm := &fieldManagers{main: main}
	if r.Status {
		if fm.status, err = managedfields.NewDefaultFieldManager(typeConverter, scheme, defaulter{}, scheme, gvk, gvk.GroupVersion(), "status", statusReset); err != nil {
			return nil, err
		}
	}
	return fm, nil
}

func (f *fieldManagers) forSub(sub string) *managedfields.FieldManager {
	if sub == "status" && f.status != nil {
		return f.status
	}
	return f.main
}

// managerName is the fieldManager query parameter, or upstream's default: the User-Agent's product name.
func managerName(query string, userAgent string) string {
	if query != "" {
		return query
	}
	name, _, _ := strings.Cut(userAgent, "/")
	if name == "" {
		return "unknown"
	}
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}
