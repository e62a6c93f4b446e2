package admission

import (
	"context"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"skiff/internal/auth"
)

func TestNodeRestriction(t *testing.T) {
	n1 := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes}}
	pods := map[string]*corev1.Pod{
		"mine":   {ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "default", UID: "u1"}, Spec: corev1.PodSpec{NodeName: "n1"}},
		"theirs": {ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "default", UID: "u2"}, Spec: corev1.PodSpec{NodeName: "n2"}},
	}
	p := NodeRestriction{
		Pod: func(_ context.Context, _, name string) (*corev1.Pod, error) {
			if pod, ok := pods[name]; ok {
				return pod, nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
		},
		Node: func(_ context.Context, name string) (*corev1.Node, error) {
			return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "node-uid"}}, nil
		},
	}
	gvr := func(group, resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource}
	}
	node := func(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	withLabel := func(p *corev1.Pod, k, v string) *corev1.Pod {
		p = p.DeepCopy()
		p.Labels = map[string]string{k: v}
		return p
	}
	mirror := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "static-n1", Namespace: "default",
		Annotations:     map[string]string{mirrorPodAnnotation: "x"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "node-uid", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeName: "n1"}}
	mirrorWithSecret := mirror.DeepCopy()
	mirrorWithSecret.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}
	token := func(name string, uid string) *authenticationv1.TokenRequest {
		return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: name, UID: types.UID(uid)}}}
	}
	taint := corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name    string
		a       Attributes
		wantErr string
	}{
		{"own node status", Attributes{Operation: Update, Resource: gvr("", "nodes"), Subresource: "status", Name: "n1",
			Object: node("n1", nil), OldObject: node("n1", nil)}, ""},
		{"other node", Attributes{Operation: Update, Resource: gvr("", "nodes"), Subresource: "status", Name: "n2",
			Object: node("n2", nil), OldObject: node("n2", nil)}, `nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`},
		{"register with kubelet labels", Attributes{Operation: Create, Resource: gvr("", "nodes"), Name: "n1",
			Object: node("n1", map[string]string{"kubernetes.io/hostname": "n1", "node.kubernetes.io/x": "y", "example.com/a": "b"}, taint)}, ""},
		{"register with a restricted label", Attributes{Operation: Create, Resource: gvr("", "nodes"), Name: "n1",
			Object: node("n1", map[string]string{"node-restriction.kubernetes.io/pci": "yes", "node-role.kubernetes.io/master": ""})},
			`node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/pci, node-role.kubernetes.io/master`},
		{"add a kubernetes.io label", Attributes{Operation: Update, Resource: gvr("", "nodes"), Name: "n1",
			Object: node("n1", map[string]string{"foo.kubernetes.io/x": "1"}), OldObject: node("n1", nil)},
			`is not allowed to modify labels: foo.kubernetes.io/x`},
		{"change taints", Attributes{Operation: Update, Resource: gvr("", "nodes"), Name: "n1",
			Object: node("n1", nil), OldObject: node("n1", nil, taint)}, `node "n1" is not allowed to modify taints`},
		{"own pod status", Attributes{Operation: Update, Resource: gvr("", "pods"), Subresource: "status", Namespace: "default",
			Name: "mine", Object: pods["mine"], OldObject: pods["mine"]}, ""},
		{"other pod status", Attributes{Operation: Update, Resource: gvr("", "pods"), Subresource: "status", Namespace: "default",
			Name: "theirs", Object: pods["theirs"], OldObject: pods["theirs"]},
			`node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{"labels through status", Attributes{Operation: Update, Resource: gvr("", "pods"), Subresource: "status", Namespace: "default",
			Name: "mine", Object: withLabel(pods["mine"], "a", "b"), OldObject: pods["mine"]}, `cannot update labels through pod status`},
		{"pod update", Attributes{Operation: Update, Resource: gvr("", "pods"), Namespace: "default", Name: "mine",
			Object: pods["mine"], OldObject: pods["mine"]}, `unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`},
		{"delete own pod", Attributes{Operation: Delete, Resource: gvr("", "pods"), Namespace: "default", Name: "mine", OldObject: pods["mine"]}, ""},
		{"delete other pod", Attributes{Operation: Delete, Resource: gvr("", "pods"), Namespace: "default", Name: "theirs",
			OldObject: pods["theirs"]}, `node "n1" can only delete pods with spec.nodeName set to itself`},
		{"evict own pod", Attributes{Operation: Create, Resource: gvr("", "pods"), Subresource: "eviction", Namespace: "default",
			Name: "mine", Object: &policyv1.Eviction{}}, ""},
		{"evict other pod", Attributes{Operation: Create, Resource: gvr("", "pods"), Subresource: "eviction", Namespace: "default",
			Name: "theirs", Object: &policyv1.Eviction{}}, `node n1 can only evict pods with spec.nodeName set to itself`},
		{"mirror pod", Attributes{Operation: Create, Resource: gvr("", "pods"), Namespace: "default", Object: mirror}, ""},
		{"plain pod", Attributes{Operation: Create, Resource: gvr("", "pods"), Namespace: "default", Object: pods["mine"]},
			`pods "mine" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`},
		{"mirror pod with a secret", Attributes{Operation: Create, Resource: gvr("", "pods"), Namespace: "default", Object: mirrorWithSecret},
			`node "n1" can not create pods that reference secrets`},
		{"token for own pod", Attributes{Operation: Create, Resource: gvr("", "serviceaccounts"), Subresource: "token",
			Namespace: "default", Name: "default", Object: token("mine", "u1")}, ""},
		{"token for other pod", Attributes{Operation: Create, Resource: gvr("", "serviceaccounts"), Subresource: "token",
			Namespace: "default", Name: "default", Object: token("theirs", "u2")}, `node requested token bound to a pod scheduled on a different node`},
		{"unbound token", Attributes{Operation: Create, Resource: gvr("", "serviceaccounts"), Subresource: "token",
			Namespace: "default", Name: "default", Object: &authenticationv1.TokenRequest{}}, `node requested token not bound to a pod`},
		{"own lease", Attributes{Operation: Create, Resource: gvr("coordination.k8s.io", "leases"), Namespace: "kube-node-lease",
			Object: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}}, ""},
		{"other lease", Attributes{Operation: Create, Resource: gvr("coordination.k8s.io", "leases"), Namespace: "kube-node-lease",
			Object: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}}, `can only access node lease with the same name as the requesting node`},
		{"configmaps are not its business", Attributes{Operation: Create, Resource: gvr("", "configmaps"), Namespace: "default",
			Object: &corev1.ConfigMap{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			a.User = n1
			err := p.Validate(context.Background(), &a)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !apierrors.IsForbidden(err)):
				t.Fatalf("got %v, want a Forbidden error with %q", err, tt.wantErr)
			}
		})
	}
	// Users that are not nodes pass.
	a := Attributes{Operation: Delete, Resource: gvr("", "pods"), Namespace: "default", Name: "theirs", OldObject: pods["theirs"],
		User: &auth.User{Name: "system:node:n1"}}
	if err := p.Validate(context.Background(), &a); err != nil {
		t.Fatalf("a user outside system:nodes was refused: %v", err)
	}
}
