// Package policy runs admission policies (admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy,
// MutatingAdmissionPolicy and their bindings). core.go, params.go and request.go are the part both share:
// matching of matchConstraints/matchResources, param resolution (any kind, through dynamic informers
// started on demand), the CEL inputs of a request. validating.go is the ValidatingAdmissionPolicy plugin,
// mutating.go (with patch.go) the MutatingAdmissionPolicy one.
package policy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/admission"
	"skiff/internal/admission/match"
	"skiff/internal/auth"
)

// MatchResources decides whether a policy's matchConstraints or a binding's matchResources cover the
// request: namespaceSelector, objectSelector, resourceRules (with resourceNames), and not
// excludeResourceRules. matchPolicy Equivalent is treated as Exact (as skiff's webhooks): the request's own
// group/version/resource must be listed. A nil m matches everything (a binding without matchResources).
func MatchResources(ctx context.Context, m *admissionregv1.MatchResources, a *admission.Attributes, ns match.NamespaceGetter) (bool, error) {
	if m == nil {
		return true, nil
	}
	// As upstream's matcher: a selector that does not match skips; a selector error is reported only when
	// the resource rules match the request.
	nsOK, nsErr := match.NamespaceSelector(ctx, m.NamespaceSelector, a, ns)
	if nsErr == nil && !nsOK {
		return false, nil
	}
	objOK, objErr := match.ObjectSelector(m.ObjectSelector, a)
	if objErr == nil && !objOK {
		return false, nil
	}
	if namedRules(m.ExcludeResourceRules, a) {
		return false, nil
	}
	if len(m.ResourceRules) > 0 && !namedRules(m.ResourceRules, a) {
		return false, nil
	}
	if nsErr != nil {
		if !apierrors.IsNotFound(nsErr) {
			nsErr = apierrors.NewInternalError(nsErr)
		}
		return false, nsErr
	}
	if objErr != nil {
		return false, apierrors.NewInternalError(objErr)
	}
	return true, nil
}

// PolicyMatches: a policy's matchConstraints must list resourceRules (validation requires them); with
// none it matches nothing.
func PolicyMatches(ctx context.Context, m *admissionregv1.MatchResources, a *admission.Attributes, ns match.NamespaceGetter) (bool, error) {
	if m == nil || len(m.ResourceRules) == 0 {
		return false, nil
	}
	return MatchResources(ctx, m, a, ns)
}

func namedRules(rules []admissionregv1.NamedRuleWithOperations, a *admission.Attributes) bool {
	for _, r := range rules {
		if !match.Rule(r.RuleWithOperations, a) {
			continue
		}
		if len(r.ResourceNames) == 0 {
			return true
		}
		name := requestName(a)
		for _, n := range r.ResourceNames {
			if n == name {
				return true
			}
		}
	}
	return false
}

// requestName is the request's name, or the object's (a create names the object in its body).
func requestName(a *admission.Attributes) string {
	if a.Name != "" {
		return a.Name
	}
	for _, o := range []any{a.Object, a.OldObject} {
		if o == nil {
			continue
		}
		if acc, err := meta.Accessor(o); err == nil && acc.GetName() != "" {
			return acc.GetName()
		}
	}
	return ""
}

// ConfigError is a policy or binding that cannot be applied (a param that cannot be found, an unknown
// paramKind...). failurePolicy decides: Ignore skips it, Fail refuses the request with upstream's
// message "policy '<p>' with binding '<b>' denied request: failed to configure binding: <err>".
type ConfigError struct {
	Policy, Binding string
	Err             error
}

func (c ConfigError) Error() string {
	if c.Binding != "" {
		return fmt.Sprintf("policy '%s' with binding '%s' denied request: failed to configure binding: %v", c.Policy, c.Binding, c.Err)
	}
	return fmt.Sprintf("policy %q denied request: failed to configure policy: %v", c.Policy, c.Err)
}

// PolicyError is a policy that failed on a request (a mutation or matchCondition that errored): upstream's
// "policy '<p>' with binding '<b>' denied request: <err>", refusing the request under failurePolicy Fail.
type PolicyError struct {
	Policy, Binding string
	Err             error
}

func (e PolicyError) Error() string {
	return fmt.Sprintf("policy '%s' with binding '%s' denied request: %v", e.Policy, e.Binding, e.Err)
}

// waitReady: before Start the plugin has nothing to run; admission-config resources are exempt; else the
// request waits (bounded) for the informers, and is refused while they have not synced.
func waitReady(ctx context.Context, a *admission.Attributes, started *atomic.Bool, synced chan struct{}, wait time.Duration) (bool, error) {
	if !started.Load() || match.Exempt(a) {
		return false, nil
	}
	select {
	case <-synced:
		return true, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-synced:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("not yet ready to handle request"))
	}
}

// getNamespace reads a namespace from the informer, or from the API when the informer has not seen it yet.
func getNamespace(ctx context.Context, l corelisters.NamespaceLister, client kubernetes.Interface, name string) (*corev1.Namespace, error) {
	if ns, err := l.Get(name); err == nil {
		return ns, nil
	}
	return client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
}

// plugin is what both policy plugins share: the authorizer for CEL, the informer readiness, namespaces,
// params, and the policies compiled once per resourceVersion (C is the plugin's compiled form).
type plugin[C any] struct {
	authz    auth.Authorizer
	started  atomic.Bool
	synced   chan struct{}
	waitSync time.Duration

	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	params   *Params

	mu       sync.Mutex
	compiled map[string]compiledAt[C] // policy name -> compiled at a resourceVersion
}

type compiledAt[C any] struct {
	resourceVersion string
	c               C
}

func newPlugin[C any](authz auth.Authorizer) plugin[C] {
	return plugin[C]{authz: authz, synced: make(chan struct{}), waitSync: 10 * time.Second, compiled: map[string]compiledAt[C]{}}
}

// startCommon starts f (which holds the plugin's policy and binding informers, and gets the namespace
// informer here) and closes synced once they and the namespaces have synced. forget is called with the name
// of every deleted policy, whose compiled form is dropped.
func (p *plugin[C]) startCommon(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, mapper meta.ResettableRESTMapper,
	f informers.SharedInformerFactory, policies cache.SharedIndexInformer, synced ...cache.InformerSynced) {
	p.client = client
	p.nsLister = f.Core().V1().Namespaces().Lister()
	p.params = NewParams(ctx, dyn, mapper)
	_, _ = policies.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		if acc, err := meta.Accessor(o); err == nil {
			p.mu.Lock()
			delete(p.compiled, acc.GetName())
			p.mu.Unlock()
		}
	}})
	synced = append(synced, f.Core().V1().Namespaces().Informer().HasSynced)
	f.Start(ctx.Done())
	p.started.Store(true)
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), synced...) {
			close(p.synced)
		}
	}()
}

// compiledFor returns the policy's compiled form, compiling it when the resourceVersion changed.
func (p *plugin[C]) compiledFor(name, resourceVersion string, compile func() C) C {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.compiled[name]; ok && c.resourceVersion == resourceVersion {
		return c.c
	}
	c := compile()
	p.compiled[name] = compiledAt[C]{resourceVersion: resourceVersion, c: c}
	return c
}

func (p *plugin[C]) ready(ctx context.Context, a *admission.Attributes) (bool, error) {
	return waitReady(ctx, a, &p.started, p.synced, p.waitSync)
}

func (p *plugin[C]) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	return getNamespace(ctx, p.nsLister, p.client, name)
}
