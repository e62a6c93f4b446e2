package admission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"skiff/internal/auth"
)

// NodeRestriction is upstream's admission plugin of that name: a node's credentials (see auth.NodeIdentity)
// may write only its own Node (not its taints, nor labels outside the kubelet's set), its own lease and
// CSINode, the status of pods bound to it, mirror pods bound to it (which may refer to no other object), and
// may delete or evict only pods bound to it; a token it requests must be bound to a pod on it. It pairs with
// the Node authorizer, which lets nodes make these writes at all. Other users pass untouched.
type NodeRestriction struct {
	// Pod reads a pod (NotFound when it does not exist), for evictions and token requests.
	Pod func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	// Node reads a Node, to check a mirror pod's owner.
	Node func(ctx context.Context, name string) (*corev1.Node, error)
}

var _ Validator = NodeRestriction{}

// Validate implements Validator.
func (p NodeRestriction) Validate(ctx context.Context, a *Attributes) error {
	nodeName, isNode := auth.NodeIdentity(a.User)
	if !isNode {
		return nil
	}
	if nodeName == "" {
		return forbiddenBy(a, fmt.Errorf("could not determine node from user %q", a.User.Name))
	}
	switch a.Resource.Group + "/" + a.Resource.Resource {
	case "/pods":
		switch a.Subresource {
		case "":
			return p.pod(ctx, nodeName, a)
		case "status":
			return podStatus(nodeName, a)
		case "eviction":
			return p.eviction(ctx, nodeName, a)
		default:
			return forbiddenBy(a, fmt.Errorf("unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.Subresource))
		}
	case "/nodes":
		return nodeWrite(nodeName, a)
	case "/persistentvolumeclaims":
		if a.Subresource != "status" {
			return forbiddenBy(a, errors.New("may only update PVC status"))
		}
		return claimStatus(nodeName, a)
	case "/serviceaccounts":
		return p.token(ctx, nodeName, a)
	case "coordination.k8s.io/leases":
		return ownNamed(nodeName, a, "can only access node lease with the same name as the requesting node", func() string {
			if l, ok := a.Object.(*coordinationv1.Lease); ok {
				return l.Name
			}
			return ""
		})
	case "storage.k8s.io/csinodes":
		return ownNamed(nodeName, a, "can only access CSINode with the same name as the requesting node", func() string {
			if c, ok := a.Object.(*storagev1.CSINode); ok {
				return c.Name
			}
			return ""
		})
	case "certificates.k8s.io/certificatesigningrequests":
		return csr(nodeName, a)
	}
	return nil
}

// forbiddenBy is upstream's admission.NewForbidden: `<resource> "<name>" is forbidden: <err>`, the name taken
// from the object when the request has none (a create).
func forbiddenBy(a *Attributes, err error) error {
	name := a.Name
	if name == "" && a.Object != nil {
		if acc, aerr := meta.Accessor(a.Object); aerr == nil {
			name = acc.GetName()
		}
	}
	return apierrors.NewForbidden(a.Resource.GroupResource(), name, err)
}

func (p NodeRestriction) pod(ctx context.Context, nodeName string, a *Attributes) error {
	switch a.Operation {
	case Create:
		return p.mirrorPod(ctx, nodeName, a)
	case Delete:
		old, ok := a.OldObject.(*corev1.Pod)
		if !ok {
			return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.OldObject))
		}
		if old.Spec.NodeName != nodeName {
			return forbiddenBy(a, fmt.Errorf("node %q can only delete pods with spec.nodeName set to itself", nodeName))
		}
		return nil
	default:
		return forbiddenBy(a, fmt.Errorf("unexpected operation %q, node %q can only create and delete mirror pods", a.Operation, nodeName))
	}
}

// mirrorPod admits the only pods a node may create: mirrors of its static pods, bound to it, owned by its
// Node, and referring to no other API object (else a node could read any secret by naming it in a pod).
func (p NodeRestriction) mirrorPod(ctx context.Context, nodeName string, a *Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.Object))
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; !mirror {
		return forbiddenBy(a, fmt.Errorf("pod does not have %q annotation, node %q can only create mirror pods", mirrorPodAnnotation, nodeName))
	}
	if pod.Spec.NodeName != nodeName {
		return forbiddenBy(a, fmt.Errorf("node %q can only create pods with spec.nodeName set to itself", nodeName))
	}
	switch refs := pod.OwnerReferences; {
	case len(refs) > 1:
		return forbiddenBy(a, fmt.Errorf("node %q can only create pods with a single owner reference set to itself", nodeName))
	case len(refs) == 0:
		return forbiddenBy(a, fmt.Errorf("node %q can only create pods with an owner reference set to itself", nodeName))
	default:
		owner := refs[0]
		if owner.APIVersion != "v1" || owner.Kind != "Node" || owner.Name != nodeName {
			return forbiddenBy(a, fmt.Errorf("node %q can only create pods with an owner reference set to itself", nodeName))
		}
		if owner.Controller == nil || !*owner.Controller {
			return forbiddenBy(a, fmt.Errorf("node %q can only create pods with a controller owner reference set to itself", nodeName))
		}
		if owner.BlockOwnerDeletion != nil && *owner.BlockOwnerDeletion {
			return forbiddenBy(a, fmt.Errorf("node %q must not set blockOwnerDeletion on an owner reference", nodeName))
		}
		node, err := p.Node(ctx, nodeName)
		if apierrors.IsNotFound(err) {
			return err
		}
		if err != nil {
			return forbiddenBy(a, err)
		}
		if node.UID != owner.UID {
			return forbiddenBy(a, fmt.Errorf("node %s UID mismatch", nodeName))
		}
	}
	if pod.Spec.ServiceAccountName != "" {
		return forbiddenBy(a, fmt.Errorf("node %q can not create pods that reference a service account", nodeName))
	}
	kinds := map[string]bool{}
	for _, r := range podObjectRefs(pod) {
		kinds[r] = true
	}
	for _, k := range []string{"secrets", "configmaps", "persistentvolumeclaims"} {
		if kinds[k] {
			return forbiddenBy(a, fmt.Errorf("node %q can not create pods that reference %s", nodeName, k))
		}
	}
	return nil
}

// podObjectRefs lists the kinds of objects (secrets, configmaps, persistentvolumeclaims) a pod's volumes,
// env and image pull secrets name.
func podObjectRefs(pod *corev1.Pod) []string {
	var out []string
	if len(pod.Spec.ImagePullSecrets) > 0 {
		out = append(out, "secrets")
	}
	var envs []corev1.EnvVar
	var froms []corev1.EnvFromSource
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			envs, froms = append(envs, c.Env...), append(froms, c.EnvFrom...)
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		envs, froms = append(envs, c.Env...), append(froms, c.EnvFrom...)
	}
	for _, f := range froms {
		if f.SecretRef != nil {
			out = append(out, "secrets")
		}
		if f.ConfigMapRef != nil {
			out = append(out, "configmaps")
		}
	}
	for _, e := range envs {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			out = append(out, "secrets")
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			out = append(out, "configmaps")
		}
	}
	for _, v := range pod.Spec.Volumes {
		s := v.VolumeSource
		switch {
		case s.Secret != nil, s.AzureFile != nil, s.CephFS != nil && s.CephFS.SecretRef != nil,
			s.Cinder != nil && s.Cinder.SecretRef != nil, s.FlexVolume != nil && s.FlexVolume.SecretRef != nil,
			s.ISCSI != nil && s.ISCSI.SecretRef != nil, s.RBD != nil && s.RBD.SecretRef != nil,
			s.ScaleIO != nil && s.ScaleIO.SecretRef != nil, s.StorageOS != nil && s.StorageOS.SecretRef != nil,
			s.CSI != nil && s.CSI.NodePublishSecretRef != nil:
			out = append(out, "secrets")
		case s.ConfigMap != nil:
			out = append(out, "configmaps")
		case s.PersistentVolumeClaim != nil, s.Ephemeral != nil:
			out = append(out, "persistentvolumeclaims")
		case s.Projected != nil:
			for _, src := range s.Projected.Sources {
				if src.Secret != nil {
					out = append(out, "secrets")
				}
				if src.ConfigMap != nil {
					out = append(out, "configmaps")
				}
			}
		}
	}
	return out
}

func podStatus(nodeName string, a *Attributes) error {
	if a.Operation != Update {
		return forbiddenBy(a, fmt.Errorf("unexpected operation %q", a.Operation))
	}
	old, ok := a.OldObject.(*corev1.Pod)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.OldObject))
	}
	if old.Spec.NodeName != nodeName {
		return forbiddenBy(a, fmt.Errorf("node %q can only update pod status for pods with spec.nodeName set to itself", nodeName))
	}
	if pod, ok := a.Object.(*corev1.Pod); ok && !equality.Semantic.DeepEqual(labelsOrNil(pod.Labels), labelsOrNil(old.Labels)) {
		return forbiddenBy(a, fmt.Errorf("node %q cannot update labels through pod status", nodeName))
	}
	return nil
}

func labelsOrNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (p NodeRestriction) eviction(ctx context.Context, nodeName string, a *Attributes) error {
	if a.Operation != Create {
		return forbiddenBy(a, fmt.Errorf("unexpected operation %s", a.Operation))
	}
	name := a.Name
	if ev, ok := a.Object.(*policyv1.Eviction); ok && name == "" {
		name = ev.Name
	}
	if name == "" {
		return forbiddenBy(a, errors.New("could not determine pod from request data"))
	}
	pod, err := p.Pod(ctx, a.Namespace, name)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbiddenBy(a, err)
	}
	if pod.Spec.NodeName != nodeName {
		return forbiddenBy(a, fmt.Errorf("node %s can only evict pods with spec.nodeName set to itself", nodeName))
	}
	return nil
}

// nodeWrite lets a node create or update only its own Node, and neither set a config source, change its taints
// after registering, nor set labels outside the kubelet's own (which could steer privileged workloads to it).
func nodeWrite(nodeName string, a *Attributes) error {
	if a.Name != nodeName {
		return forbiddenBy(a, fmt.Errorf("node %q is not allowed to modify node %q", nodeName, a.Name))
	}
	switch a.Operation {
	case Create:
		node, ok := a.Object.(*corev1.Node)
		if !ok {
			return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.Object))
		}
		if node.Spec.ConfigSource != nil {
			return forbiddenBy(a, fmt.Errorf("node %q is not allowed to create pods with a non-nil configSource", nodeName))
		}
		if bad := forbiddenNodeLabels(modifiedLabels(node.Labels, nil)); len(bad) > 0 {
			return forbiddenBy(a, fmt.Errorf("node %q is not allowed to set the following labels: %s", nodeName, strings.Join(bad, ", ")))
		}
	case Update:
		node, ok := a.Object.(*corev1.Node)
		old, ok2 := a.OldObject.(*corev1.Node)
		if !ok || !ok2 {
			return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.Object))
		}
		if node.Spec.ConfigSource != nil && !equality.Semantic.DeepEqual(node.Spec.ConfigSource, old.Spec.ConfigSource) {
			return forbiddenBy(a, fmt.Errorf("node %q is not allowed to update configSource to a new non-nil configSource", nodeName))
		}
		if !equality.Semantic.DeepEqual(node.Spec.Taints, old.Spec.Taints) {
			return forbiddenBy(a, fmt.Errorf("node %q is not allowed to modify taints", nodeName))
		}
		if bad := forbiddenNodeLabels(modifiedLabels(node.Labels, old.Labels)); len(bad) > 0 {
			return forbiddenBy(a, fmt.Errorf("is not allowed to modify labels: %s", strings.Join(bad, ", ")))
		}
	}
	return nil
}

func modifiedLabels(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// kubeletLabels are the kubernetes.io labels a kubelet may set on its Node, as upstream's.
var kubeletLabels = []string{
	corev1.LabelHostname, corev1.LabelTopologyZone, corev1.LabelTopologyRegion, corev1.LabelFailureDomainBetaZone,
	corev1.LabelFailureDomainBetaRegion, corev1.LabelInstanceType, corev1.LabelInstanceTypeStable, corev1.LabelOSStable,
	corev1.LabelArchStable, "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
}

// kubeletLabelNamespaces are label prefixes (and their subdomains) a kubelet may use freely.
var kubeletLabelNamespaces = []string{"kubelet.kubernetes.io", "node.kubernetes.io"}

// forbiddenNodeLabels returns, sorted, the changed labels a node may not set: node-restriction.kubernetes.io/
// ones, and kubernetes.io or k8s.io ones other than the kubelet's.
func forbiddenNodeLabels(changed []string) []string {
	var out []string
	for _, l := range changed {
		ns, _, ok := strings.Cut(l, "/")
		if !ok {
			continue
		}
		if inDomain(ns, corev1.LabelNamespaceNodeRestriction) ||
			((inDomain(ns, "kubernetes.io") || inDomain(ns, "k8s.io")) && !isKubeletLabel(l, ns)) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func inDomain(ns, domain string) bool { return ns == domain || strings.HasSuffix(ns, "."+domain) }

func isKubeletLabel(label, ns string) bool {
	if slices.Contains(kubeletLabels, label) {
		return true
	}
	for _, d := range kubeletLabelNamespaces {
		if inDomain(ns, d) {
			return true
		}
	}
	return false
}

// claimStatus lets a node change only a claim's capacity and conditions (volume expansion on the node).
func claimStatus(nodeName string, a *Attributes) error {
	if a.Operation != Update {
		return forbiddenBy(a, fmt.Errorf("unexpected operation %q", a.Operation))
	}
	pvc, ok := a.Object.(*corev1.PersistentVolumeClaim)
	old, ok2 := a.OldObject.(*corev1.PersistentVolumeClaim)
	if !ok || !ok2 {
		return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.Object))
	}
	pvc, old = pvc.DeepCopy(), old.DeepCopy()
	for _, c := range []*corev1.PersistentVolumeClaim{pvc, old} {
		c.ResourceVersion, c.ManagedFields = "", nil
		c.Status.Capacity, c.Status.Conditions = nil, nil
		c.Status.AllocatedResources, c.Status.AllocatedResourceStatuses = nil, nil
	}
	if !equality.Semantic.DeepEqual(pvc, old) {
		return forbiddenBy(a, fmt.Errorf("node %q is not allowed to update fields other than status.quantity and status.conditions", nodeName))
	}
	return nil
}

// token requires a node's TokenRequest to be bound to a pod on the node.
func (p NodeRestriction) token(ctx context.Context, nodeName string, a *Attributes) error {
	if a.Operation != Create || a.Subresource != "token" {
		return nil
	}
	tr, ok := a.Object.(*authenticationv1.TokenRequest)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.Object))
	}
	ref := tr.Spec.BoundObjectRef
	if ref == nil || ref.APIVersion != "v1" || ref.Kind != "Pod" || ref.Name == "" {
		return forbiddenBy(a, errors.New("node requested token not bound to a pod"))
	}
	if ref.UID == "" {
		return forbiddenBy(a, errors.New("node requested token with a pod binding without a uid"))
	}
	pod, err := p.Pod(ctx, a.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbiddenBy(a, err)
	}
	if ref.UID != pod.UID {
		return forbiddenBy(a, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	if pod.Spec.NodeName != nodeName {
		return forbiddenBy(a, errors.New("node requested token bound to a pod scheduled on a different node"))
	}
	return nil
}

// ownNamed checks a lease or CSINode names the node: on create by the object, else by the request.
func ownNamed(nodeName string, a *Attributes, msg string, objName func() string) error {
	if a.Resource.Resource == "leases" && a.Namespace != corev1.NamespaceNodeLease {
		return forbiddenBy(a, fmt.Errorf("can only access leases in the %q system namespace", corev1.NamespaceNodeLease))
	}
	name := a.Name
	if a.Operation == Create {
		name = objName()
	}
	if name != nodeName {
		return forbiddenBy(a, errors.New(msg))
	}
	return nil
}

// csr requires a node's requests for kubelet certificates to name the node.
func csr(nodeName string, a *Attributes) error {
	if a.Operation != Create {
		return nil
	}
	c, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("unexpected type %T", a.Object))
	}
	if c.Spec.SignerName != certificatesv1.KubeletServingSignerName && c.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		return nil
	}
	req, err := parseCSR(c.Spec.Request)
	if err != nil {
		return forbiddenBy(a, fmt.Errorf("unable to parse csr: %w", err))
	}
	if req.Subject.CommonName != auth.NodeUserPrefix+nodeName {
		return forbiddenBy(a, fmt.Errorf("can only create a node CSR with CN=system:node:%s", nodeName))
	}
	return nil
}
