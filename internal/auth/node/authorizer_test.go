package node

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"skiff/internal/auth"
)

// fakeGraph relates node n1 to the objects listed as "kind/ns/name".
type fakeGraph map[string]bool

func (g fakeGraph) Related(node string, kind Kind, ns, name string) bool {
	return node == "n1" && g[string(kind)+"/"+ns+"/"+name]
}

func TestAuthorize(t *testing.T) {
	n1 := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}}
	z := NewAuthorizer()
	z.SetGraph(fakeGraph{"secret/default/s1": true, "configmap/default/c1": true, "serviceaccount/default/sa1": true,
		"persistentvolumeclaim/default/p1": true, "persistentvolume//pv1": true, "pod/default/mine": true})
	res := func(verb, group, resource, sub, ns, name string) auth.Attributes {
		return auth.Attributes{User: n1, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns,
			Name: name, ResourceRequest: true}
	}
	tests := []struct {
		name   string
		a      auth.Attributes
		want   auth.Decision
		reason string
	}{
		{"secret of a pod on the node", res("get", "", "secrets", "", "default", "s1"), auth.DecisionAllow, ""},
		{"watch of that secret by name", res("watch", "", "secrets", "", "default", "s1"), auth.DecisionAllow, ""},
		{"secret of a pod elsewhere", res("get", "", "secrets", "", "default", "s2"), auth.DecisionNoOpinion,
			"no relationship found between node 'n1' and this object"},
		{"list of all secrets", res("list", "", "secrets", "", "default", ""), auth.DecisionNoOpinion, "No Object name found"},
		{"secret update", res("update", "", "secrets", "", "default", "s1"), auth.DecisionNoOpinion, "can only read resources of this type"},
		{"configmap", res("get", "", "configmaps", "", "default", "c1"), auth.DecisionAllow, ""},
		{"claim", res("get", "", "persistentvolumeclaims", "", "default", "p1"), auth.DecisionAllow, ""},
		{"claim list", res("list", "", "persistentvolumeclaims", "", "default", ""), auth.DecisionNoOpinion,
			"can only get individual resources of this type"},
		{"claim status", res("patch", "", "persistentvolumeclaims", "status", "default", "p1"), auth.DecisionAllow, ""},
		{"volume", res("get", "", "persistentvolumes", "", "", "pv1"), auth.DecisionAllow, ""},
		{"token", res("create", "", "serviceaccounts", "token", "default", "sa1"), auth.DecisionAllow, ""},
		{"token of another account", res("create", "", "serviceaccounts", "token", "default", "other"), auth.DecisionNoOpinion,
			"no relationship found between node 'n1' and this object"},
		{"service account read", res("get", "", "serviceaccounts", "", "default", "sa1"), auth.DecisionNoOpinion,
			"can only create tokens for individual service accounts"},
		{"own node", res("get", "", "nodes", "", "", "n1"), auth.DecisionAllow, ""},
		{"other node", res("get", "", "nodes", "", "", "n2"), auth.DecisionNoOpinion, "node 'n1' cannot read 'n2', only its own Node object"},
		{"all nodes", res("list", "", "nodes", "", "", ""), auth.DecisionNoOpinion, "node 'n1' cannot read all nodes, only its own Node object"},
		{"node status write (admission checks the name)", res("update", "", "nodes", "status", "", "n2"), auth.DecisionAllow, ""},
		{"node delete", res("delete", "", "nodes", "", "", "n1"), auth.DecisionNoOpinion, ""},
		{"own node by field selector", res("watch", "", "nodes", "", "", "n1"), auth.DecisionAllow, ""},
		{"node status read", res("get", "", "nodes", "status", "", "n1"), auth.DecisionNoOpinion, ""},
		{"node proxy", res("get", "", "nodes", "proxy", "", "n1"), auth.DecisionNoOpinion, ""},
		{"own lease", res("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"), auth.DecisionAllow, ""},
		{"other lease", res("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n2"), auth.DecisionNoOpinion,
			"can only access node lease with the same name as the requesting node"},
		{"lease elsewhere", res("get", "coordination.k8s.io", "leases", "", "kube-system", "n1"), auth.DecisionNoOpinion,
			`can only access leases in the "kube-node-lease" system namespace`},
		{"all pods", res("list", "", "pods", "", "", ""), auth.DecisionNoOpinion, "can only list/watch pods with spec.nodeName field selector"},
		{"own pods", withFields(res("watch", "", "pods", "", "", ""), "spec.nodeName=n1"), auth.DecisionAllow, ""},
		{"own pods, selector among others", withFields(res("list", "", "pods", "", "default", ""), "metadata.namespace=default,spec.nodeName==n1"), auth.DecisionAllow, ""},
		{"another node's pods", withFields(res("list", "", "pods", "", "", ""), "spec.nodeName=n2"), auth.DecisionNoOpinion,
			"can only list/watch pods with spec.nodeName field selector"},
		{"pods not on the node", withFields(res("list", "", "pods", "", "", ""), "spec.nodeName!=n1"), auth.DecisionNoOpinion,
			"can only list/watch pods with spec.nodeName field selector"},
		{"watch of a pod on the node by name", res("watch", "", "pods", "", "default", "mine"), auth.DecisionAllow, ""},
		{"get of a pod on the node", res("get", "", "pods", "", "default", "mine"), auth.DecisionAllow, ""},
		{"get of a pod elsewhere", res("get", "", "pods", "", "default", "theirs"), auth.DecisionNoOpinion,
			"no relationship found between node 'n1' and this object"},
		{"mirror pod create", res("create", "", "pods", "", "default", ""), auth.DecisionAllow, ""},
		{"pod update", res("update", "", "pods", "", "default", "mine"), auth.DecisionNoOpinion, ""},
		{"pod status", res("update", "", "pods", "status", "default", "p"), auth.DecisionAllow, ""},
		{"pod eviction", res("create", "", "pods", "eviction", "default", "p"), auth.DecisionAllow, ""},
		{"pod exec", res("create", "", "pods", "exec", "default", "mine"), auth.DecisionNoOpinion, ""},
		{"events", res("create", "", "events", "", "default", ""), auth.DecisionAllow, ""},
		{"csr", res("create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""), auth.DecisionAllow, ""},
		{"deployments", res("list", "apps", "deployments", "", "default", ""), auth.DecisionNoOpinion, ""},
		{"not a node", auth.Attributes{User: &auth.User{Name: "system:node:n1"}, Verb: "get", Resource: "secrets",
			Namespace: "default", Name: "s1", ResourceRequest: true}, auth.DecisionNoOpinion, ""},
		{"unknown node", auth.Attributes{User: &auth.User{Name: "system:node:", Groups: []string{auth.GroupNodes}}, Verb: "get",
			Resource: "secrets", ResourceRequest: true}, auth.DecisionNoOpinion, `unknown node for user "system:node:"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tt.a)
			if err != nil || d != tt.want || reason != tt.reason {
				t.Fatalf("got %v %q %v, want %v %q", d, reason, err, tt.want, tt.reason)
			}
		})
	}
}

func withFields(a auth.Attributes, sel string) auth.Attributes {
	a.FieldSelector = fields.ParseSelectorOrDie(sel).Requirements()
	return a
}

func TestNoGraphYet(t *testing.T) {
	n1 := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes}}
	d, _, _ := NewAuthorizer().Authorize(context.Background(), auth.Attributes{User: n1, Verb: "get", Resource: "secrets",
		Namespace: "default", Name: "s1", ResourceRequest: true})
	if d != auth.DecisionNoOpinion {
		t.Fatalf("got %v before the graph synced", d)
	}
}

func TestPodRefs(t *testing.T) {
	opt := corev1.LocalObjectReference{Name: "pull"}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{
		ServiceAccountName: "sa", ImagePullSecrets: []corev1.LocalObjectReference{opt},
		Containers: []corev1.Container{{Env: []corev1.EnvVar{
			{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-s"}}}},
			{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-c"}}}},
		}, EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "from-s"}}}}}},
		InitContainers: []corev1.Container{{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-c"}}}}}},
		Volumes: []corev1.Volume{
			{Name: "v1", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-s"}}},
			{Name: "v2", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-c"}}}},
			{Name: "v3", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim"}}},
			{Name: "v4", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
			{Name: "v5", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-s"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-c"}}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			}}}},
			{Name: "v6", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d", NodePublishSecretRef: &corev1.LocalObjectReference{Name: "csi-s"}}}},
		},
	}}
	got := map[Ref]bool{}
	for _, r := range PodRefs(pod) {
		got[r] = true
	}
	want := []Ref{{ServiceAccount, "sa"}, {Secret, "pull"}, {Secret, "env-s"}, {ConfigMap, "env-c"}, {Secret, "from-s"},
		{ConfigMap, "init-c"}, {Secret, "vol-s"}, {ConfigMap, "vol-c"}, {PVC, "claim"}, {PVC, "p-v4"}, {Secret, "proj-s"},
		{ConfigMap, "proj-c"}, {Secret, "csi-s"}}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %v", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want exactly %v", got, want)
	}
}
