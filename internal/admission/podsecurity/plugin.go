package podsecurity

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/admission"
	"skiff/internal/apiserver/audit"
)

// Plugin is the PodSecurity admission plugin (a validating admission.Validator).
type Plugin struct {
	// Defaults apply to namespaces without labels (privileged:latest everywhere unless configured).
	Defaults Policy
	// Exempt users, runtime classes and namespaces are never checked.
	ExemptUsers, ExemptRuntimeClasses, ExemptNamespaces map[string]bool
	// Namespace reads a namespace (from the watch cache).
	Namespace admission.NamespaceGetter
	// Pods lists a namespace's pods, for the warnings about existing pods when enforce becomes stricter; nil
	// skips them.
	Pods func(ctx context.Context, namespace string) ([]*corev1.Pod, error)
}

// New builds the plugin from a configuration (nil: upstream's defaults, no exemptions).
func New(cfg *Configuration, ns admission.NamespaceGetter, pods func(ctx context.Context, namespace string) ([]*corev1.Pod, error)) (*Plugin, error) {
	if cfg == nil {
		cfg = &Configuration{}
	}
	def, err := cfg.Policy()
	if err != nil {
		return nil, err
	}
	toSet := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	return &Plugin{Defaults: def, ExemptUsers: toSet(cfg.Exemptions.Usernames), ExemptRuntimeClasses: toSet(cfg.Exemptions.RuntimeClasses),
		ExemptNamespaces: toSet(cfg.Exemptions.Namespaces), Namespace: ns, Pods: pods}, nil
}

// podControllers are the resources whose pod templates are checked (warn and audit only, never enforced).
var podControllers = map[schema.GroupResource]bool{
	{Resource: "podtemplates"}:                true,
	{Resource: "replicationcontrollers"}:      true,
	{Group: "apps", Resource: "replicasets"}:  true,
	{Group: "apps", Resource: "deployments"}:  true,
	{Group: "apps", Resource: "statefulsets"}: true,
	{Group: "apps", Resource: "daemonsets"}:   true,
	{Group: "batch", Resource: "jobs"}:        true,
	{Group: "batch", Resource: "cronjobs"}:    true,
}

// Validate implements admission.Validator.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	gr := a.Resource.GroupResource()
	switch {
	case gr == schema.GroupResource{Resource: "namespaces"}:
		if a.Subresource != "" {
			return nil
		}
		return p.validateNamespace(ctx, a)
	case gr == schema.GroupResource{Resource: "pods"}:
		if a.Subresource != "" && a.Subresource != "ephemeralcontainers" {
			return nil
		}
		return p.validatePod(ctx, a)
	case podControllers[gr]:
		if a.Subresource != "" {
			return nil
		}
		return p.validatePodController(ctx, a)
	}
	return nil
}

// policy returns the namespace's policy, or ok=false (with the exemption logged) when it is exempt.
func (p *Plugin) policy(ctx context.Context, a *admission.Attributes) (Policy, bool, error) {
	if p.ExemptNamespaces[a.Namespace] {
		audit.AddAnnotation(ctx, AuditAnnotationExempt, "namespace")
		return Policy{}, false, nil
	}
	if a.User != nil && p.ExemptUsers[a.User.Name] {
		audit.AddAnnotation(ctx, AuditAnnotationExempt, "user")
		return Policy{}, false, nil
	}
	ns, err := p.Namespace(ctx, a.Namespace)
	if err != nil {
		return Policy{}, false, err
	}
	pol, errs := PolicyFor(ns.Labels, p.Defaults)
	if len(errs) > 0 {
		audit.AddAnnotation(ctx, AuditAnnotationError, "Invalid namespace labels: "+errs.ToAggregate().Error())
	}
	return pol, true, nil
}

func (p *Plugin) exemptRuntimeClass(ctx context.Context, spec *corev1.PodSpec) bool {
	if spec.RuntimeClassName != nil && p.ExemptRuntimeClasses[*spec.RuntimeClassName] {
		audit.AddAnnotation(ctx, AuditAnnotationExempt, "runtimeClass")
		return true
	}
	return false
}

func (p *Plugin) validatePod(ctx context.Context, a *admission.Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if a.Operation == admission.Update {
		old, ok := a.OldObject.(*corev1.Pod)
		if ok && !significantPodUpdate(pod, old) {
			return nil
		}
	}
	pol, ok, err := p.policy(ctx, a)
	if err != nil || !ok {
		return err
	}
	if p.exemptRuntimeClass(ctx, &pod.Spec) {
		return nil
	}
	if pol.Enforce.Level.rank() > 0 {
		audit.AddAnnotation(ctx, AuditAnnotationEnforcePolicy, pol.Enforce.String())
		if vs := Evaluate(pol.Enforce, &pod.ObjectMeta, &pod.Spec); len(vs) > 0 {
			return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf("violates PodSecurity %q: %s", pol.Enforce.String(), Message(vs)))
		}
	}
	p.auditAndWarn(ctx, pol, &pod.ObjectMeta, &pod.Spec)
	return nil
}

func (p *Plugin) auditAndWarn(ctx context.Context, pol Policy, meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	if vs := Evaluate(pol.Audit, meta, spec); len(vs) > 0 {
		audit.AddAnnotation(ctx, AuditAnnotationAuditViolations, fmt.Sprintf("would violate PodSecurity %q: %s", pol.Audit.String(), Message(vs)))
	}
	if vs := Evaluate(pol.Warn, meta, spec); len(vs) > 0 {
		admission.AddWarning(ctx, fmt.Sprintf("would violate PodSecurity %q: %s", pol.Warn.String(), Message(vs)))
	}
}

// significantPodUpdate reports whether an update changes what the standards look at. As upstream documents, a
// pod in violation may still have its metadata (but the AppArmor and seccomp annotations),
// activeDeadlineSeconds and tolerations updated.
func significantPodUpdate(pod, old *corev1.Pod) bool {
	for _, m := range []map[string]string{pod.Annotations, old.Annotations} {
		for k := range m {
			if (strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) || strings.HasPrefix(k, "seccomp.security.alpha.kubernetes.io/") ||
				strings.HasPrefix(k, "container.seccomp.security.alpha.kubernetes.io/")) && pod.Annotations[k] != old.Annotations[k] {
				return true
			}
		}
	}
	a, b := pod.Spec.DeepCopy(), old.Spec.DeepCopy()
	a.ActiveDeadlineSeconds, b.ActiveDeadlineSeconds = nil, nil
	a.Tolerations, b.Tolerations = nil, nil
	return !equality.Semantic.DeepEqual(a, b)
}

// template returns the pod template of a workload resource.
func template(obj any) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *corev1.PodTemplate:
		return &o.Template
	case *corev1.ReplicationController:
		return o.Spec.Template
	case *appsv1.ReplicaSet:
		return &o.Spec.Template
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.StatefulSet:
		return &o.Spec.Template
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	case *batchv1.Job:
		return &o.Spec.Template
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template
	}
	return nil
}

func (p *Plugin) validatePodController(ctx context.Context, a *admission.Attributes) error {
	tmpl := template(a.Object)
	if tmpl == nil {
		return nil
	}
	if a.Operation == admission.Update {
		if old := template(a.OldObject); old != nil && equality.Semantic.DeepEqual(old.ObjectMeta, tmpl.ObjectMeta) && equality.Semantic.DeepEqual(old.Spec, tmpl.Spec) {
			return nil
		}
	}
	pol, ok, err := p.policy(ctx, a)
	if err != nil || !ok {
		return err
	}
	if p.exemptRuntimeClass(ctx, &tmpl.Spec) {
		return nil
	}
	p.auditAndWarn(ctx, pol, &tmpl.ObjectMeta, &tmpl.Spec)
	return nil
}

// podsToWarnAbout caps the existing pods a namespace label change evaluates, as upstream caps its dry run.
const podsToWarnAbout = 3000

func (p *Plugin) validateNamespace(ctx context.Context, a *admission.Attributes) error {
	ns, ok := a.Object.(*corev1.Namespace)
	if !ok {
		return nil
	}
	pol, errs := PolicyFor(ns.Labels, p.Defaults)
	if a.Operation == admission.Create {
		if len(errs) > 0 {
			return apierrors.NewInvalid(schema.GroupKind{Kind: "Namespace"}, ns.Name, errs)
		}
		return nil
	}
	old, ok := a.OldObject.(*corev1.Namespace)
	if !ok {
		return nil
	}
	oldPol, _ := PolicyFor(old.Labels, p.Defaults)
	if sameLabels(ns.Labels, old.Labels) {
		return nil
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Namespace"}, ns.Name, errs)
	}
	// Existing pods are dry-run against a new enforce level, unless it is unchanged, privileged, or the same
	// version made less strict; exempt namespaces are skipped.
	if pol.Enforce == oldPol.Enforce || pol.Enforce.Level.rank() == 0 || p.ExemptNamespaces[ns.Name] || p.Pods == nil ||
		(pol.Enforce.Version == oldPol.Enforce.Version && pol.Enforce.Level.rank() < oldPol.Enforce.Level.rank()) {
		return nil
	}
	pods, err := p.Pods(ctx, ns.Name)
	if err != nil {
		admission.AddWarning(ctx, fmt.Sprintf("failed to list pods while checking new PodSecurity enforce level: %v", err))
		return nil
	}
	for _, w := range p.existingPodWarnings(ns.Name, pol.Enforce, pods) {
		admission.AddWarning(ctx, w)
	}
	return nil
}

func sameLabels(a, b map[string]string) bool {
	for _, k := range []string{EnforceLevelLabel, EnforceVersionLabel, AuditLevelLabel, AuditVersionLabel, WarnLevelLabel, WarnVersionLabel} {
		va, oka := a[k]
		vb, okb := b[k]
		if va != vb || oka != okb {
			return false
		}
	}
	return true
}

// existingPodWarnings dry-runs pods against an enforce level: a first warning saying so, then one per distinct
// set of reasons ("web-1 (and 2 other pods): privileged, hostPort").
func (p *Plugin) existingPodWarnings(namespace string, lv LevelVersion, pods []*corev1.Pod) []string {
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	if len(pods) > podsToWarnAbout {
		pods = pods[:podsToWarnAbout]
	}
	type group struct {
		first  string
		others int
	}
	var order []string
	groups := map[string]*group{}
	for _, pod := range pods {
		if pod.Spec.RuntimeClassName != nil && p.ExemptRuntimeClasses[*pod.Spec.RuntimeClassName] {
			continue
		}
		vs := Evaluate(lv, &pod.ObjectMeta, &pod.Spec)
		if len(vs) == 0 {
			continue
		}
		r := Reasons(vs)
		if g := groups[r]; g != nil {
			g.others++
			continue
		}
		groups[r] = &group{first: pod.Name}
		order = append(order, r)
	}
	if len(order) == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("existing pods in namespace %q violate the new PodSecurity enforce level %q", namespace, lv.String())}
	for _, r := range order {
		g := groups[r]
		switch g.others {
		case 0:
			out = append(out, fmt.Sprintf("%s: %s", g.first, r))
		case 1:
			out = append(out, fmt.Sprintf("%s (and 1 other pod): %s", g.first, r))
		default:
			out = append(out, fmt.Sprintf("%s (and %d other pods): %s", g.first, g.others, r))
		}
	}
	return out
}
