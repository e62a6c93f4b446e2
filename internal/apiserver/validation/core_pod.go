package validation

import (
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// resourceIsPod switches on the checks upstream applies to Pods but not to
// pod templates (templates may be completed later by controllers or tools).
type podOpts struct {
	resourceIsPod bool
}

func validatePod(pod *corev1.Pod) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validatePodSpecAndMeta(pod)
	// Ephemeral containers are added later through their own subresource.
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("ephemeralContainers"), "cannot be set on create"))
	}
	// A gated pod is by definition not scheduled yet.
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) != 0 {
		errs = append(errs, field.Forbidden(spec.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

// validatePodSpecAndMeta is what create and update share.
func validatePodSpecAndMeta(pod *corev1.Pod) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validatePodSpec(&pod.Spec, &pod.ObjectMeta, spec, podOpts{resourceIsPod: true})
	if pod.Spec.ServiceAccountName == "" {
		for vi, v := range pod.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for si, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					errs = append(errs, field.Forbidden(spec.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken"),
						"must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	for _, list := range []struct {
		name string
		c    []corev1.Container
	}{{"containers", pod.Spec.Containers}, {"initContainers", pod.Spec.InitContainers}} {
		for i, c := range list.c {
			errs = append(errs, imageWhitespace(c.Image, spec.Child(list.name).Index(i).Child("image"))...)
		}
	}
	for i, v := range pod.Spec.Volumes {
		if v.Image != nil && v.Image.Reference == "" {
			errs = append(errs, field.Required(spec.Child("volumes").Index(i).Child("image", "reference"), ""))
		}
	}
	return errs
}

func imageWhitespace(image string, p *field.Path) field.ErrorList {
	if len(image) != len(strings.TrimSpace(image)) {
		return field.ErrorList{field.Invalid(p, image, "must not have leading or trailing whitespace")}
	}
	return nil
}

// validatePodTemplateSpec checks a template embedded in a workload.
func validatePodTemplateSpec(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(t.Labels, p.Child("labels"))
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(t.Annotations, p.Child("annotations"))...)
	errs = append(errs, validatePodSpec(&t.Spec, nil, p.Child("spec"), podOpts{})...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(p.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// validatePodSpec follows upstream's ValidatePodSpec, field by field.
func validatePodSpec(spec *corev1.PodSpec, podMeta *metav1.ObjectMeta, p *field.Path, opts podOpts) field.ErrorList {
	var errs field.ErrorList
	if spec.TerminationGracePeriodSeconds == nil {
		errs = append(errs, field.Required(p.Child("terminationGracePeriodSeconds"), ""))
	}
	pc := &podContext{
		claims:        map[string]bool{},
		gracePeriod:   spec.TerminationGracePeriodSeconds,
		restartPolicy: spec.RestartPolicy,
		hostUsers:     spec.HostUsers == nil || *spec.HostUsers,
	}
	vols, vErrs := validateVolumes(spec.Volumes, podMeta, p.Child("volumes"))
	pc.volumes = vols
	errs = append(errs, vErrs...)
	errs = append(errs, validatePodResourceClaims(spec.ResourceClaims, pc.claims, p.Child("resourceClaims"))...)
	errs = append(errs, validateContainers(spec.Containers, pc, p.Child("containers"))...)
	errs = append(errs, validateInitContainers(spec.InitContainers, spec.Containers, pc, p.Child("initContainers"))...)
	errs = append(errs, validateEphemeralContainers(spec, pc, p.Child("ephemeralContainers"))...)
	if spec.Resources != nil {
		errs = append(errs, validatePodResources(spec.Resources, pc.claims, p.Child("resources"))...)
	}
	errs = append(errs, validateHostNetworkPorts(spec, p, opts)...)
	errs = append(errs, requiredOneOf(spec.RestartPolicy, p.Child("restartPolicy"),
		corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	errs = append(errs, requiredOneOf(spec.DNSPolicy, p.Child("dnsPolicy"),
		corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)...)
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, validatePodSecurityContext(spec, p.Child("securityContext"))...)
	errs = append(errs, validateAffinity(spec.Affinity, p.Child("affinity"))...)
	errs = append(errs, validatePodDNSConfig(spec.DNSConfig, spec.DNSPolicy, p.Child("dnsConfig"))...)
	for i, g := range spec.ReadinessGates {
		errs = append(errs, qualifiedName(string(g.ConditionType), p.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	errs = append(errs, validateSchedulingGates(spec.SchedulingGates, p.Child("schedulingGates"))...)
	errs = append(errs, validateTopologySpreadConstraints(spec.TopologySpreadConstraints, p.Child("topologySpreadConstraints"))...)
	errs = append(errs, validateHostUsers(spec, p)...)
	if spec.ServiceAccountName != "" {
		errs = append(errs, name(apimachineryvalidation.ValidateServiceAccountName, spec.ServiceAccountName, p.Child("serviceAccountName"))...)
	}
	if spec.NodeName != "" {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, spec.NodeName, p.Child("nodeName"))...)
	}
	if ads := spec.ActiveDeadlineSeconds; ads != nil && (*ads < 1 || *ads > math.MaxInt32) {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *ads, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	if spec.Hostname != "" {
		errs = append(errs, dns1123Label(spec.Hostname, p.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, dns1123Label(spec.Subdomain, p.Child("subdomain"))...)
	}
	errs = append(errs, validateTolerations(spec.Tolerations, p.Child("tolerations"))...)
	for i, ha := range spec.HostAliases {
		hp := p.Child("hostAliases").Index(i)
		errs = append(errs, validation.IsValidIP(hp.Child("ip"), ha.IP)...)
		for j, h := range ha.Hostnames {
			errs = append(errs, dns1123Subdomain(h, hp.Child("hostnames").Index(j))...)
		}
	}
	if spec.PriorityClassName != "" {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, spec.PriorityClassName, p.Child("priorityClassName"))...)
	}
	if spec.RuntimeClassName != nil {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, *spec.RuntimeClassName, p.Child("runtimeClassName"))...)
	}
	if spec.PreemptionPolicy != nil {
		errs = append(errs, requiredOneOf(*spec.PreemptionPolicy, p.Child("preemptionPolicy"), corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	if spec.Overhead != nil {
		errs = append(errs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: spec.Overhead}, validateContainerResourceName, nil, p.Child("overhead"))...)
	}
	errs = append(errs, validateOS(spec, p)...)
	return errs
}

func validatePodResourceClaims(claims []corev1.PodResourceClaim, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, c := range claims {
		ip := p.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(ip.Child("name"), ""))
		case names[c.Name]:
			errs = append(errs, field.Duplicate(ip.Child("name"), c.Name))
		default:
			errs = append(errs, dns1123Label(c.Name, ip.Child("name"))...)
			names[c.Name] = true
		}
		if c.ResourceClaimName != nil && c.ResourceClaimTemplateName != nil {
			errs = append(errs, field.Invalid(ip, c, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
		}
		if c.ResourceClaimName == nil && c.ResourceClaimTemplateName == nil {
			errs = append(errs, field.Invalid(ip, c, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
		}
	}
	return errs
}

func validatePodResources(r *corev1.ResourceRequirements, claims map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Claims != nil {
		errs = append(errs, field.Forbidden(p.Child("claims"), "claims cannot be set for Resources at pod-level"))
	}
	supported := sets.New(corev1.ResourceCPU, corev1.ResourceMemory)
	podName := func(n corev1.ResourceName, fp *field.Path) field.ErrorList {
		if e := validateResourceName(n, fp); len(e) != 0 {
			return e
		}
		if !supported.Has(n) && !isHugePage(n) {
			return field.ErrorList{field.NotSupported(fp, n, []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, "hugepages-*"})}
		}
		return nil
	}
	return append(errs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: r.Limits, Requests: r.Requests}, podName, claims, p)...)
}

// validateContainers checks regular containers; name clashes with init and
// ephemeral containers are reported by those lists.
func validateContainers(containers []corev1.Container, pc *podContext, p *field.Path) field.ErrorList {
	if len(containers) == 0 {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range containers {
		c := &containers[i]
		cp := p.Index(i)
		errs = append(errs, validateContainerCommon(c, pc, cp)...)
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		} else {
			names.Insert(c.Name)
		}
		if c.Lifecycle != nil {
			errs = append(errs, validateLifecycle(c.Lifecycle, pc.gracePeriod, cp.Child("lifecycle"))...)
		}
		errs = append(errs, validateLivenessProbe(c.LivenessProbe, pc.gracePeriod, cp.Child("livenessProbe"))...)
		errs = append(errs, validateReadinessProbe(c.ReadinessProbe, pc.gracePeriod, cp.Child("readinessProbe"))...)
		errs = append(errs, validateLivenessProbe(c.StartupProbe, pc.gracePeriod, cp.Child("startupProbe"))...)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(cp.Child("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	return append(errs, checkHostPortConflicts(containers, p)...)
}

// validateInitContainers: only restartable ("sidecar") init containers may
// have probes and lifecycle hooks, since the others run to completion.
func validateInitContainers(inits, regular []corev1.Container, pc *podContext, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for _, c := range regular {
		names.Insert(c.Name)
	}
	const notSidecar = "may not be set for init containers without restartPolicy=Always"
	for i := range inits {
		c := &inits[i]
		cp := p.Index(i)
		errs = append(errs, validateContainerCommon(c, pc, cp)...)
		sidecar := false
		if c.RestartPolicy != nil {
			errs = append(errs, oneOf(*c.RestartPolicy, cp.Child("restartPolicy"), corev1.ContainerRestartPolicyAlways)...)
			sidecar = *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		} else if c.Name != "" {
			names.Insert(c.Name)
		}
		// Init containers run one at a time, so host ports only clash within one.
		errs = append(errs, checkHostPortConflicts([]corev1.Container{*c}, p)...)
		if sidecar {
			if c.Lifecycle != nil {
				errs = append(errs, validateLifecycle(c.Lifecycle, pc.gracePeriod, cp.Child("lifecycle"))...)
			}
			errs = append(errs, validateLivenessProbe(c.LivenessProbe, pc.gracePeriod, cp.Child("livenessProbe"))...)
			errs = append(errs, validateReadinessProbe(c.ReadinessProbe, pc.gracePeriod, cp.Child("readinessProbe"))...)
			errs = append(errs, validateLivenessProbe(c.StartupProbe, pc.gracePeriod, cp.Child("startupProbe"))...)
			continue
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"lifecycle", c.Lifecycle != nil}, {"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil}, {"startupProbe", c.StartupProbe != nil}} {
			if f.set {
				errs = append(errs, field.Forbidden(cp.Child(f.name), notSidecar))
			}
		}
	}
	return errs
}

func validateEphemeralContainers(spec *corev1.PodSpec, pc *podContext, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	others, all := sets.New[string](), sets.New[string]()
	for _, c := range append(append([]corev1.Container{}, spec.Containers...), spec.InitContainers...) {
		others.Insert(c.Name)
		all.Insert(c.Name)
	}
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		ip := p.Index(i)
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		errs = append(errs, validateContainerCommon(c, pc, ip)...)
		errs = append(errs, imageWhitespace(c.Image, ip.Child("image"))...)
		if all.Has(ec.Name) {
			errs = append(errs, field.Duplicate(ip.Child("name"), ec.Name))
		} else {
			all.Insert(ec.Name)
		}
		if ec.TargetContainerName != "" && !others.Has(ec.TargetContainerName) {
			errs = append(errs, field.NotFound(ip.Child("targetContainerName"), ec.TargetContainerName))
		}
		// Ephemeral containers are for debugging, not serving: no ports,
		// probes, lifecycle hooks or resources.
		const msg = "cannot be set for an Ephemeral Container"
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"ports", len(ec.Ports) > 0}, {"resources", len(ec.Resources.Limits)+len(ec.Resources.Requests)+len(ec.Resources.Claims) > 0},
			{"livenessProbe", ec.LivenessProbe != nil}, {"readinessProbe", ec.ReadinessProbe != nil},
			{"startupProbe", ec.StartupProbe != nil}, {"lifecycle", ec.Lifecycle != nil},
			{"resizePolicy", len(ec.ResizePolicy) > 0}, {"restartPolicy", ec.RestartPolicy != nil},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(ip.Child(f.name), msg))
			}
		}
		for j, vm := range ec.VolumeMounts {
			if vm.SubPath != "" {
				errs = append(errs, field.Forbidden(ip.Child("volumeMounts").Index(j).Child("subPath"), msg))
			}
			if vm.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(ip.Child("volumeMounts").Index(j).Child("subPathExpr"), msg))
			}
		}
	}
	return errs
}

// validateHostNetworkPorts: with host networking the host port is the
// container port. Templates may leave it 0; defaulting fills it on the Pod.
func validateHostNetworkPorts(spec *corev1.PodSpec, p *field.Path, opts podOpts) field.ErrorList {
	if !spec.HostNetwork {
		return nil
	}
	var errs field.ErrorList
	for i, c := range spec.Containers {
		for j, port := range c.Ports {
			if hp, cp := port.HostPort, port.ContainerPort; (opts.resourceIsPod || hp != 0) && hp != cp {
				errs = append(errs, field.Invalid(p.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"), port.HostPort,
					"must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return errs
}
