// Package webhook runs dynamic admission webhooks (admissionregistration.k8s.io/v1
// MutatingWebhookConfiguration and ValidatingWebhookConfiguration): it matches each write against the
// configured webhooks and calls them over HTTPS with an admission.k8s.io AdmissionReview.
package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	admissionreglisters "k8s.io/client-go/listers/admissionregistration/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/admission"
	"skiff/internal/admission/match"
	"skiff/internal/auth"
)

// Plugin is both the MutatingAdmissionWebhook (Admit) and the ValidatingAdmissionWebhook (Validate) plugin.
// It does nothing until Start has been called.
type Plugin struct {
	started  atomic.Bool
	synced   chan struct{}
	client   kubernetes.Interface
	vwc      admissionreglisters.ValidatingWebhookConfigurationLister
	mwc      admissionreglisters.MutatingWebhookConfigurationLister
	nsLister corelisters.NamespaceLister
	svc      corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister

	transports sync.Map // transportKey -> *http.Transport
	// waitSync bounds how long a request waits for the informers at start (upstream refuses meanwhile).
	waitSync time.Duration
	// Authorizer answers matchConditions' authorizer checks (the server's chain; nil: nothing is allowed).
	Authorizer auth.Authorizer
}

// New returns a plugin to put in the admission chain; call Start once the API serves.
func New() *Plugin { return &Plugin{synced: make(chan struct{}), waitSync: 10 * time.Second} }

// Start runs the informers over webhook configurations, namespaces, Services and EndpointSlices.
func (p *Plugin) Start(ctx context.Context, client kubernetes.Interface) {
	p.client = client
	f := informers.NewSharedInformerFactory(client, 0)
	ar := f.Admissionregistration().V1()
	p.vwc, p.mwc = ar.ValidatingWebhookConfigurations().Lister(), ar.MutatingWebhookConfigurations().Lister()
	p.nsLister = f.Core().V1().Namespaces().Lister()
	p.svc = f.Core().V1().Services().Lister()
	p.slices = f.Discovery().V1().EndpointSlices().Lister()
	f.Start(ctx.Done())
	p.started.Store(true)
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), ar.ValidatingWebhookConfigurations().Informer().HasSynced,
			ar.MutatingWebhookConfigurations().Informer().HasSynced, f.Core().V1().Namespaces().Informer().HasSynced,
			f.Core().V1().Services().Informer().HasSynced, f.Discovery().V1().EndpointSlices().Informer().HasSynced) {
			close(p.synced)
		}
	}()
}

// ready waits (bounded) for the informers; before Start there are no webhooks to run.
func (p *Plugin) ready(ctx context.Context, a *admission.Attributes) (bool, error) {
	if !p.started.Load() || match.Exempt(a) {
		return false, nil
	}
	t := time.NewTimer(p.waitSync)
	defer t.Stop()
	select {
	case <-p.synced:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("not yet ready to handle request"))
	}
}

// hook is a mutating or validating webhook, with the name of its configuration.
type hook struct {
	admissionregv1.ValidatingWebhook
	mutating     bool
	reinvocation *admissionregv1.ReinvocationPolicyType
	// key names the webhook uniquely: configuration/webhook.
	key string
}

func (p *Plugin) mutatingHooks() []hook {
	cfgs, _ := p.mwc.List(labels.Everything())
	sort.Slice(cfgs, func(i, j int) bool { return cfgs[i].Name < cfgs[j].Name })
	var out []hook
	for _, c := range cfgs {
		for _, w := range c.Webhooks {
			out = append(out, hook{ValidatingWebhook: admissionregv1.ValidatingWebhook{Name: w.Name, ClientConfig: w.ClientConfig,
				Rules: w.Rules, FailurePolicy: w.FailurePolicy, MatchPolicy: w.MatchPolicy, NamespaceSelector: w.NamespaceSelector,
				ObjectSelector: w.ObjectSelector, SideEffects: w.SideEffects, TimeoutSeconds: w.TimeoutSeconds,
				AdmissionReviewVersions: w.AdmissionReviewVersions, MatchConditions: w.MatchConditions},
				mutating: true, reinvocation: w.ReinvocationPolicy, key: c.Name + "/" + w.Name})
		}
	}
	return out
}

func (p *Plugin) validatingHooks() []hook {
	cfgs, _ := p.vwc.List(labels.Everything())
	sort.Slice(cfgs, func(i, j int) bool { return cfgs[i].Name < cfgs[j].Name })
	var out []hook
	for _, c := range cfgs {
		for _, w := range c.Webhooks {
			out = append(out, hook{ValidatingWebhook: w})
		}
	}
	return out
}

// matches decides whether h applies to the request: rules, then namespace and object selectors.
// and last the matchConditions (CEL).
func (p *Plugin) matches(ctx context.Context, h *hook, a *admission.Attributes) (bool, error) {
	if !match.Rules(h.Rules, a) {
		return false, nil
	}
	ok, err := match.NamespaceSelector(ctx, h.NamespaceSelector, a, p.namespace)
	if err != nil || !ok {
		if err != nil && !apierrors.IsNotFound(err) {
			err = apierrors.NewInternalError(err)
		}
		return false, err
	}
	if ok, err = match.ObjectSelector(h.ObjectSelector, a); err != nil || !ok {
		if err != nil {
			err = apierrors.NewInternalError(err)
		}
		return false, err
	}
	if len(h.MatchConditions) > 0 {
		ok, err := evalConditions(ctx, h.MatchConditions, a, p.Authorizer)
		if err != nil {
			if h.FailurePolicy != nil && *h.FailurePolicy == admissionregv1.Ignore {
				slog.Warn("admission webhook match condition failed; webhook skipped (failurePolicy Ignore)", "webhook", h.Name, "err", err)
				return false, nil
			}
			return false, apierrors.NewInternalError(&callError{h.Name, err})
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// Admit runs the mutating webhooks in order (configurations sorted by name), applying each JSONPatch before
// calling the next.
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	if ok, err := p.ready(ctx, a); !ok {
		return err
	}
	return p.runMutating(ctx, a)
}

// reinvokeState is the webhooks' part of the reinvocation context (upstream's webhookReinvokeContext).
type reinvokeState struct {
	// lastOutput is the object as the last webhook left it: a change since (by a policy) reinvokes.
	lastOutput runtime.Object
	// invoked: IfNeeded webhooks called so far; reinvoke: those to call in the second pass.
	invoked, reinvoke map[string]bool
}

func (s *reinvokeState) requireReinvokingInvoked() {
	for n := range s.invoked {
		s.reinvoke[n] = true
	}
	s.invoked = map[string]bool{}
}

func (p *Plugin) runMutating(ctx context.Context, a *admission.Attributes) error {
	// reinvocationPolicy IfNeeded, as upstream: an IfNeeded webhook whose call was followed by a change of
	// the object (by a later webhook, or by a mutating policy before the second pass) is called once more,
	// in the chain's second pass.
	rc := a.Reinvocation()
	st, _ := rc.Value("webhook").(*reinvokeState)
	if st == nil {
		st = &reinvokeState{invoked: map[string]bool{}, reinvoke: map[string]bool{}}
		rc.SetValue("webhook", st)
	}
	if rc.IsReinvoke && a.Object != nil && !apiequality.Semantic.DeepEqual(st.lastOutput, a.Object) {
		st.requireReinvokingInvoked()
	}
	defer func() {
		if a.Object != nil {
			st.lastOutput = a.Object.DeepCopyObject()
		}
	}()
	hooks := p.mutatingHooks()
	for i := range hooks {
		h := &hooks[i]
		if rc.IsReinvoke && !st.reinvoke[h.key] {
			continue
		}
		ok, err := p.matches(ctx, h, a)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		changed, err := p.dispatch(ctx, h, a)
		if err != nil {
			return err
		}
		if changed {
			// Every earlier IfNeeded webhook saw an object that has changed since.
			st.requireReinvokingInvoked()
			rc.ShouldReinvoke = true
		}
		if h.reinvocation != nil && *h.reinvocation == admissionregv1.IfNeededReinvocationPolicy {
			st.invoked[h.key] = true
		}
	}
	return nil
}

// Validate runs the matching validating webhooks in parallel; any denial or (failurePolicy Fail) failure
// refuses the write. (Deletes reach the mutating webhooks through Admit, as other writes.)
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if ok, err := p.ready(ctx, a); !ok {
		return err
	}
	var matched []hook
	for _, h := range p.validatingHooks() {
		ok, err := p.matches(ctx, &h, a)
		if err != nil {
			return err
		}
		if ok {
			matched = append(matched, h)
		}
	}
	errs := make([]error, len(matched))
	var wg sync.WaitGroup
	for i := range matched {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.dispatch(ctx, &matched[i], a)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *Plugin) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	if ns, err := p.nsLister.Get(name); err == nil {
		return ns, nil
	}
	return p.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
}
