package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// Params finds param objects of any kind: a dynamic informer per paramKind, started on first use (kind ->
// resource through the RESTMapper, reset when a kind is unknown, e.g. a CRD created since, at most once per
// resetInterval per kind). Params are read from the informers only, as upstream.
type Params struct {
	ctx    context.Context
	dyn    dynamic.Interface
	mapper meta.ResettableRESTMapper

	mu        sync.Mutex
	informers map[schema.GroupVersionKind]*paramInformer
	lastReset map[schema.GroupVersionKind]time.Time
	now       func() time.Time
	// syncWait bounds the wait for a new informer's first list (upstream: 1s).
	syncWait time.Duration
}

type paramInformer struct {
	gvr        schema.GroupVersionResource
	namespaced bool
	inf        cache.SharedIndexInformer
}

// NewParams returns a param source; informers live until ctx ends.
func NewParams(ctx context.Context, dyn dynamic.Interface, mapper meta.ResettableRESTMapper) *Params {
	return &Params{ctx: ctx, dyn: dyn, mapper: mapper, informers: map[schema.GroupVersionKind]*paramInformer{},
		lastReset: map[schema.GroupVersionKind]time.Time{}, now: time.Now, syncWait: time.Second}
}

// resetInterval: an unknown paramKind resets the RESTMapper (rediscovery) at most this often.
const resetInterval = 30 * time.Second

// mayReset says whether the RESTMapper may be reset for gvk now (and records it).
func (p *Params) mayReset(gvk schema.GroupVersionKind) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if last, ok := p.lastReset[gvk]; ok && now.Sub(last) < resetInterval {
		return false
	}
	p.lastReset[gvk] = now
	return true
}

func kindString(k *admissionregv1.ParamKind) string {
	return fmt.Sprintf("%s, Kind=%s", k.APIVersion, k.Kind)
}

func (p *Params) informer(kind *admissionregv1.ParamKind) (*paramInformer, error) {
	gv, err := schema.ParseGroupVersion(kind.APIVersion)
	if err != nil {
		return nil, err
	}
	gvk := gv.WithKind(kind.Kind)
	p.mu.Lock()
	pi := p.informers[gvk]
	p.mu.Unlock()
	if pi != nil {
		return pi, nil
	}
	// Discovery runs without the lock (the RESTMapper has its own).
	mapping, err := p.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) && p.mayReset(gvk) {
		p.mapper.Reset()
		mapping, err = p.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("paramKind kind `%s` not known", kindString(kind))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pi := p.informers[gvk]; pi != nil { // started meanwhile by another request
		return pi, nil
	}
	inf := dynamicinformer.NewFilteredDynamicInformer(p.dyn, mapping.Resource, metav1.NamespaceAll, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, nil).Informer()
	go inf.Run(p.ctx.Done())
	pi = &paramInformer{gvr: mapping.Resource, namespaced: mapping.Scope.Name() == meta.RESTScopeNameNamespace, inf: inf}
	p.informers[gvk] = pi
	return pi, nil
}

// Collect returns the params a binding evaluates its policy with (upstream semantics): one nil param when
// the policy has no paramKind or the binding no paramRef; the named object, or every object the selector
// picks (each is evaluated); none when nothing is found and parameterNotFoundAction is Allow, an error when
// it is Deny. A namespaced paramKind with an empty paramRef.namespace uses the request's namespace.
func (p *Params) Collect(kind *admissionregv1.ParamKind, ref *admissionregv1.ParamRef, namespace string) ([]map[string]any, error) {
	if kind == nil || ref == nil {
		return []map[string]any{nil}, nil
	}
	pi, err := p.informer(kind)
	if err != nil {
		return nil, err
	}
	ns := ""
	if pi.namespaced {
		ns = namespace
		if ref.Namespace != "" {
			ns = ref.Namespace
		} else if ns == "" {
			return nil, errors.New("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources")
		}
	} else if ref.Namespace != "" {
		return nil, errors.New("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.syncWait)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), pi.inf.HasSynced) {
		return nil, fmt.Errorf("paramKind kind `%s` not yet synced to use for admission", kindString(kind))
	}
	var params []map[string]any
	switch {
	case ref.Name != "":
		if ref.Selector != nil {
			return nil, errors.New("paramRef.name and paramRef.selector are mutually exclusive")
		}
		key := ref.Name
		if ns != "" {
			key = ns + "/" + ref.Name
		}
		obj, exists, err := pi.inf.GetStore().GetByKey(key)
		if err != nil {
			return nil, err
		}
		if exists {
			params = append(params, obj.(*unstructured.Unstructured).UnstructuredContent())
		}
	case ref.Selector != nil:
		sel, err := metav1.LabelSelectorAsSelector(ref.Selector)
		if err != nil {
			return nil, err
		}
		var objs []any
		if ns != "" {
			objs, err = pi.inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
			if err != nil {
				return nil, err
			}
		} else {
			objs = pi.inf.GetStore().List()
		}
		var picked []*unstructured.Unstructured
		for _, o := range objs {
			u := o.(*unstructured.Unstructured)
			if sel.Matches(labels.Set(u.GetLabels())) {
				picked = append(picked, u)
			}
		}
		// In a stable order (namespace, name), so the first denial reported does not vary.
		sort.Slice(picked, func(i, j int) bool {
			if picked[i].GetNamespace() != picked[j].GetNamespace() {
				return picked[i].GetNamespace() < picked[j].GetNamespace()
			}
			return picked[i].GetName() < picked[j].GetName()
		})
		for _, u := range picked {
			params = append(params, u.UnstructuredContent())
		}
	default:
		return nil, errors.New("one of name or selector must be provided")
	}
	if len(params) == 0 && ref.ParameterNotFoundAction != nil && *ref.ParameterNotFoundAction == admissionregv1.DenyAction {
		return nil, errors.New("no params found for policy binding with `Deny` parameterNotFoundAction")
	}
	return params, nil
}
