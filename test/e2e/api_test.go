package e2e

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
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
		w, err := cms.Watch(ctx, metav1.ListOptions{SendInitialEvents: &send, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
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
