package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/test/e2e/framework"
)

// TestAPISemantics covers client-go paths kubectl does not exercise: the streaming list (sendInitialEvents),
// typed deletes from other groups, dry-run deletes, selector-leaving watch events and the CSR approval
// subresource.
func TestAPISemantics(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	ctx := context.Background()
	cms := c.Client.CoreV1().ConfigMaps("default")
	for _, n := range []string{"a", "b"} {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"app": "x"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("WatchList", func(t *testing.T) {
		send := true
		// Selected by label: the namespace's kube-root-ca.crt may or may not be published yet.
		w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "app=x", SendInitialEvents: &send,
			ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		var added []string
		for {
			ev := nextEvent(t, w)
			if ev.Type == watch.Bookmark {
				if ev.Object.(*corev1.ConfigMap).Annotations["k8s.io/initial-events-end"] != "true" {
					t.Fatalf("bookmark without initial-events-end: %v", ev.Object)
				}
				break
			}
			added = append(added, ev.Object.(*corev1.ConfigMap).Name)
		}
		if len(added) != 2 {
			t.Fatalf("initial events %v", added)
		}
	})

	t.Run("LeavingSelection", func(t *testing.T) {
		w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "app=x"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		nextEvent(t, w)
		nextEvent(t, w)
		cm, _ := cms.Get(ctx, "a", metav1.GetOptions{})
		cm.Labels["app"] = "y"
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		ev := nextEvent(t, w)
		got := ev.Object.(*corev1.ConfigMap)
		if ev.Type != watch.Deleted || got.Name != "a" || got.Labels["app"] != "x" {
			t.Fatalf("leaving the selection: %s %v (the last state that matched is expected)", ev.Type, got.Labels)
		}
	})

	t.Run("DryRunDelete", func(t *testing.T) {
		before, _ := cms.Get(ctx, "b", metav1.GetOptions{})
		if err := cms.Delete(ctx, "b", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		after, err := cms.Get(ctx, "b", metav1.GetOptions{})
		if err != nil || after.ResourceVersion != before.ResourceVersion {
			t.Fatalf("dry-run delete changed the object: %v", err)
		}
	})

	t.Run("TypedDeleteInAnotherGroup", func(t *testing.T) {
		replicas := int32(1)
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
		if _, err := c.Client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		policy := metav1.DeletePropagationBackground
		if err := c.Client.AppsV1().Deployments("default").Delete(ctx, "d", metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Client.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("deployment still there: %v", err)
		}
	})

	t.Run("PutCreates", func(t *testing.T) {
		// Leases (like endpoints, events and RBAC objects) may be created by PUT; ConfigMaps may not.
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "put-created", Namespace: "default"}}
		if _, err := c.Client.CoordinationV1().Leases("default").Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("PUT of a missing lease: %v", err)
		}
		_, err := cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "put-missing", Namespace: "default"}}, metav1.UpdateOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("PUT of a missing configmap: %v, want 404", err)
		}
	})

	t.Run("CSRApproval", func(t *testing.T) {
		csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "csr"},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: testCSR(t), SignerName: "example.com/signer",
				Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}}
		created, err := c.Client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status.Conditions = append(created.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test", Message: "approved by test"})
		if _, err := c.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "csr", created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		got, _ := c.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, "csr", metav1.GetOptions{})
		if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != certificatesv1.CertificateApproved {
			t.Fatalf("approval not recorded: %+v", got.Status)
		}
	})
}

// TestPodsAndNamespaces covers binding, graceful pod deletion, generateName, field selectors, paging, finalizers
// and creation in a terminating namespace.
func TestPodsAndNamespaces(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")

	p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Name) != len("web-")+5 || p.Status.Phase != corev1.PodPending || p.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Fatalf("generated pod: name %q phase %q restartPolicy %q", p.Name, p.Status.Phase, p.Spec.RestartPolicy)
	}
	bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
	if err := pods.Bind(ctx, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Bind(ctx, bind, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("second binding: %v, want 409", err)
	}
	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-1"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("field selector spec.nodeName: %v %d", err, len(list.Items))
	}
	if _, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=1"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field selector: %v", err)
	}

	// A pod on a node is deleted gracefully: marked first, removed when its kubelet confirms with grace 0.
	if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	marked, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil || marked.DeletionTimestamp == nil || marked.DeletionGracePeriodSeconds == nil || *marked.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("graceful delete: %v %+v", err, marked.ObjectMeta)
	}
	zero := int64(0)
	if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, p.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod after grace 0: %v", err)
	}

	// Paging, over the five ConfigMaps made here and the namespace's kube-root-ca.crt (once published).
	eventually(t, 30*time.Second, func() error {
		_, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err
	})
	// It holds the cluster CA.
	caPEM, err := os.ReadFile(filepath.Join(c.DataDir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if cm, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil || len(caPEM) == 0 || cm.Data["ca.crt"] != string(caPEM) {
		t.Fatalf("kube-root-ca.crt: %v %q, want the cluster CA", err, cm.Data["ca.crt"])
	}
	for i := 0; i < 5; i++ {
		if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "page-"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.Client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{Limit: 2})
	if err != nil || len(page.Items) != 2 || page.Continue == "" || page.RemainingItemCount == nil || *page.RemainingItemCount != 4 {
		t.Fatalf("first page: %v %d %q %v", err, len(page.Items), page.Continue, page.RemainingItemCount)
	}
	rest, err := c.Client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{Limit: 10, Continue: page.Continue})
	if err != nil || len(rest.Items) != 4 || rest.Continue != "" || rest.ResourceVersion != page.ResourceVersion {
		t.Fatalf("second page: %v %d %q", err, len(rest.Items), rest.Continue)
	}

	// A finalizer holds an object, and so its namespace, which refuses new content meanwhile.
	kubectl(t, c, "create", "namespace", "held")
	if _, err := c.Client.CoreV1().ConfigMaps("held").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.CoreV1().Namespaces().Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		cm, err := c.Client.CoreV1().ConfigMaps("held").Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.DeletionTimestamp == nil {
			return fmt.Errorf("configmap not marked for deletion yet")
		}
		return nil
	})
	_, err = c.Client.CoreV1().ConfigMaps("held").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		t.Fatalf("create in a terminating namespace: %v, want 403 NamespaceTerminating", err)
	}
	// The namespace's conditions say what is left and what holds it, in upstream's words.
	eventually(t, 20*time.Second, func() error {
		ns, err := c.Client.CoreV1().Namespaces().Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			return err
		}
		got := map[corev1.NamespaceConditionType]string{}
		for _, cond := range ns.Status.Conditions {
			got[cond.Type] = string(cond.Status) + " " + cond.Reason + ": " + cond.Message
		}
		if got[corev1.NamespaceContentRemaining] != "True SomeResourcesRemain: Some resources are remaining: configmaps has 1 resource instances" ||
			got[corev1.NamespaceFinalizersRemaining] != "True SomeFinalizersRemain: Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances" ||
			got[corev1.NamespaceDeletionContentFailure] != "False ContentDeleted: All content successfully deleted, may be waiting on finalization" {
			return fmt.Errorf("namespace conditions %v", got)
		}
		return nil
	})
	kubectl(t, c, "patch", "configmap", "held", "-n", "held", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
	eventually(t, 30*time.Second, func() error {
		if _, err := c.Client.CoreV1().Namespaces().Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace still there: %v", err)
		}
		return nil
	})
	if err := c.Client.CoreV1().Namespaces().Delete(ctx, "kube-system", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("deleting kube-system: %v, want 403", err)
	}
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	return watch.Event{}
}
