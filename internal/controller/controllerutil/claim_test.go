package controllerutil

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func TestPatches(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "rs-uid"}}
	gvk := appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	want := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
		"web", "rs-uid", "p1")
	if got := string(AdoptPatch(gvk, rs, "p1", "")); got != want {
		t.Fatalf("adopt patch\n%s\nwant\n%s", got, want)
	}
	want = `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":"rs-uid"}],"$deleteFromPrimitiveList/finalizers":["f"],"uid":"p1"}}`
	if got := string(ReleasePatch("rs-uid", "p1", `"$deleteFromPrimitiveList/finalizers":["f"],`)); got != want {
		t.Fatalf("release patch\n%s\nwant\n%s", got, want)
	}
}

func TestClaim(t *testing.T) {
	ctx := context.Background()
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid"}}
	gvk := appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	ref := *metav1.NewControllerRef(rs, gvk)
	mk := func(name string, app string, owned bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name), Labels: map[string]string{"app": app}}}
		if owned {
			p.OwnerReferences = []metav1.OwnerReference{ref}
		}
		return p
	}
	pods := []*corev1.Pod{mk("owned", "web", true), mk("orphan", "web", false), mk("stray", "db", true), mk("other", "db", false)}
	client := fake.NewClientset(rs, pods[0], pods[1], pods[2], pods[3])
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	claim := func(owner *appsv1.ReplicaSet) Claim[*corev1.Pod] {
		return Claim[*corev1.Pod]{
			Owner:        owner,
			Matches:      func(p *corev1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) },
			CanAdopt:     FreshOwner(owner, client.AppsV1().ReplicaSets("ns").Get, true),
			Patch:        PodPatcher(client),
			AdoptPatch:   func(p *corev1.Pod) []byte { return AdoptPatch(gvk, owner, p.UID, "") },
			ReleasePatch: func(p *corev1.Pod) []byte { return ReleasePatch(owner.UID, p.UID, "") },
		}
	}
	owned, err := claim(rs).Run(ctx, pods)
	if err != nil || len(owned) != 2 || owned[0].Name != "owned" || owned[1].Name != "orphan" || !metav1.IsControlledBy(owned[1], rs) {
		t.Fatalf("claimed %v, %v", owned, err)
	}
	if stray, _ := client.CoreV1().Pods("ns").Get(ctx, "stray", metav1.GetOptions{}); len(stray.OwnerReferences) != 0 {
		t.Fatalf("stray pod not released: %+v", stray.OwnerReferences)
	}
	// An owner that is not the one in the API (another UID) adopts nothing.
	impostor := rs.DeepCopy()
	impostor.UID = "other-uid"
	orphan := mk("orphan2", "web", false)
	if _, err := client.CoreV1().Pods("ns").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	owned, err = claim(impostor).Run(ctx, []*corev1.Pod{orphan})
	if err != nil || len(owned) != 0 {
		t.Fatalf("impostor claimed %v, %v", owned, err)
	}
}
