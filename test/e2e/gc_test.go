package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"skiff/test/e2e/framework"
)

// TestGarbageCollector: the garbage collector carries out background, foreground and orphan deletion of owners,
// drops references to owners that are gone when other owners remain, and collects objects whose owner never
// existed.
func TestGarbageCollector(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	ctx := context.Background()
	g := gcFixture{t: t, c: c, ctx: ctx}

	t.Run("background", func(t *testing.T) {
		g := g.in(t, "gc-background")
		owner := g.configMap("owner", nil)
		child := g.configMap("child", []metav1.OwnerReference{g.ref(owner, true)})
		g.secret("secret", []metav1.OwnerReference{g.ref(owner, false)})
		g.configMap("grandchild", []metav1.OwnerReference{g.ref(child, false)})
		kubectl(t, c, "delete", "configmap", "owner", "-n", g.ns)
		g.gone("configmap", "child")
		g.gone("secret", "secret")
		g.gone("configmap", "grandchild")
	})

	t.Run("cluster-scoped owner", func(t *testing.T) {
		g := g.in(t, "gc-cluster-owner")
		pc, err := c.Client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
			ObjectMeta: metav1.ObjectMeta{Name: "gc-owner"}, Value: 1000}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g.configMap("owned", []metav1.OwnerReference{{APIVersion: "scheduling.k8s.io/v1", Kind: "PriorityClass", Name: pc.Name, UID: pc.UID}})
		kubectl(t, c, "delete", "priorityclass", "gc-owner")
		g.gone("configmap", "owned")
	})

	t.Run("foreground", func(t *testing.T) {
		g := g.in(t, "gc-foreground")
		owner := g.configMap("owner", nil)
		// The blocking dependent holds on through a finalizer of its own, and so holds its owner.
		blocker := g.configMap("blocker", []metav1.OwnerReference{g.ref(owner, true)}, "example.com/hold")
		g.secret("free", []metav1.OwnerReference{g.ref(owner, false)})
		g.configMap("grandchild", []metav1.OwnerReference{g.ref(blocker, true)})
		kubectl(t, c, "delete", "configmap", "owner", "-n", g.ns, "--cascade=foreground", "--wait=false")
		g.gone("secret", "free")
		g.gone("configmap", "grandchild")
		eventually(t, 30*time.Second, func() error {
			b, err := g.cms().Get(ctx, "blocker", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if b.DeletionTimestamp == nil {
				return fmt.Errorf("blocker not being deleted")
			}
			return nil
		})
		// The owner waits for the blocking dependent.
		time.Sleep(time.Second)
		o, err := g.cms().Get(ctx, "owner", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("owner went before its blocking dependent: %v", err)
		}
		if o.DeletionTimestamp == nil || !slices.Contains(o.Finalizers, metav1.FinalizerDeleteDependents) {
			t.Fatalf("owner: deletionTimestamp %v, finalizers %v", o.DeletionTimestamp, o.Finalizers)
		}
		kubectl(t, c, "patch", "configmap", "blocker", "-n", g.ns, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
		g.gone("configmap", "blocker")
		g.gone("configmap", "owner")
	})

	t.Run("foreground without dependents", func(t *testing.T) {
		g := g.in(t, "gc-foreground-alone")
		g.configMap("owner", nil)
		kubectl(t, c, "delete", "configmap", "owner", "-n", g.ns, "--cascade=foreground", "--timeout=30s")
		g.gone("configmap", "owner")
	})

	t.Run("orphan", func(t *testing.T) {
		g := g.in(t, "gc-orphan")
		owner := g.configMap("owner", nil)
		other := g.configMap("other", nil)
		g.configMap("child", []metav1.OwnerReference{g.ref(owner, true)})
		g.secret("secret", []metav1.OwnerReference{g.ref(owner, false), g.ref(other, false)})
		// kubectl waits for the owner to go, which needs the collector to drop the orphan finalizer.
		kubectl(t, c, "delete", "configmap", "owner", "-n", g.ns, "--cascade=orphan", "--timeout=30s")
		g.gone("configmap", "owner")
		time.Sleep(time.Second)
		child, err := g.cms().Get(ctx, "child", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned dependent: %v", err)
		}
		if len(child.OwnerReferences) != 0 {
			t.Fatalf("orphaned dependent kept references %+v", child.OwnerReferences)
		}
		s, err := c.Client.CoreV1().Secrets(g.ns).Get(ctx, "secret", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned secret: %v", err)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != other.UID {
			t.Fatalf("orphaned secret references %+v, want only %s", s.OwnerReferences, other.UID)
		}
	})

	t.Run("two owners", func(t *testing.T) {
		g := g.in(t, "gc-two-owners")
		a := g.configMap("a", nil)
		b := g.configMap("b", nil)
		g.configMap("shared", []metav1.OwnerReference{g.ref(a, true), g.ref(b, false)})
		kubectl(t, c, "delete", "configmap", "a", "-n", g.ns)
		eventually(t, 30*time.Second, func() error {
			s, err := g.cms().Get(ctx, "shared", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != b.UID {
				return fmt.Errorf("references %+v, want only b", s.OwnerReferences)
			}
			return nil
		})
		time.Sleep(time.Second)
		if _, err := g.cms().Get(ctx, "shared", metav1.GetOptions{}); err != nil {
			t.Fatalf("dependent with a remaining owner: %v", err)
		}
		kubectl(t, c, "delete", "configmap", "b", "-n", g.ns)
		g.gone("configmap", "shared")
	})

	t.Run("owner never existed", func(t *testing.T) {
		g := g.in(t, "gc-dangling")
		g.configMap("dangling", []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "nobody", UID: types.UID("00000000-0000-0000-0000-000000000001")}})
		// A reference to a live name under another UID dangles too.
		g.configMap("nobody", nil)
		g.gone("configmap", "dangling")
		time.Sleep(time.Second)
		if _, err := g.cms().Get(ctx, "nobody", metav1.GetOptions{}); err != nil {
			t.Fatalf("unrelated object: %v", err)
		}
	})
}

type gcFixture struct {
	t   *testing.T
	c   *framework.Cluster
	ctx context.Context
	ns  string
}

// in returns the fixture for a subtest, in a fresh namespace.
func (g gcFixture) in(t *testing.T, ns string) gcFixture {
	t.Helper()
	g.t, g.ns = t, ns
	kubectl(t, g.c, "create", "namespace", ns)
	return g
}

func (g gcFixture) cms() typedcorev1.ConfigMapInterface {
	return g.c.Client.CoreV1().ConfigMaps(g.ns)
}

func (g gcFixture) configMap(name string, owners []metav1.OwnerReference, finalizers ...string) *corev1.ConfigMap {
	g.t.Helper()
	cm, err := g.c.Client.CoreV1().ConfigMaps(g.ns).Create(g.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, OwnerReferences: owners, Finalizers: finalizers}}, metav1.CreateOptions{})
	if err != nil {
		g.t.Fatal(err)
	}
	return cm
}

func (g gcFixture) secret(name string, owners []metav1.OwnerReference) *corev1.Secret {
	g.t.Helper()
	s, err := g.c.Client.CoreV1().Secrets(g.ns).Create(g.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: name, OwnerReferences: owners}}, metav1.CreateOptions{})
	if err != nil {
		g.t.Fatal(err)
	}
	return s
}

// ref is a reference to a ConfigMap owner.
func (g gcFixture) ref(owner *corev1.ConfigMap, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, BlockOwnerDeletion: &block}
}

// gone waits until the named object of the namespace is deleted.
func (g gcFixture) gone(resource, name string) {
	g.t.Helper()
	eventually(g.t, 30*time.Second, func() error {
		var err error
		switch resource {
		case "configmap":
			_, err = g.c.Client.CoreV1().ConfigMaps(g.ns).Get(g.ctx, name, metav1.GetOptions{})
		case "secret":
			_, err = g.c.Client.CoreV1().Secrets(g.ns).Get(g.ctx, name, metav1.GetOptions{})
		}
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%s %s/%s still there", resource, g.ns, name)
	})
}
