package e2e

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/test/e2e/framework"
)

// TestRestartKeepsObjects: what was acknowledged survives a restart, SIGTERM exits cleanly, and /readyz answers
// without credentials.
func TestRestartKeepsObjects(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	resp, err := framework.InsecureClient().Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", c.Port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("/readyz: %d %q", resp.StatusCode, body)
	}
	kubectl(t, c, "create", "namespace", "keep")
	kubectl(t, c, "create", "configmap", "kept", "-n", "keep", "--from-literal=k=v")
	kubectl(t, c, "create", "deployment", "kept", "-n", "keep", "--image=busybox:1.36", "--replicas=3")
	before := kubectl(t, c, "get", "configmap/kept", "deployment/kept", "-n", "keep", "-o", "jsonpath={range .items[*]}{.metadata.uid}{' '}{end}")
	c.Stop()
	if code := c.ExitCode(); code != 0 {
		t.Fatalf("server exit code after SIGTERM: %d\n%s", code, c.Logs())
	}
	c.Restart(t)
	after := kubectl(t, c, "get", "configmap/kept", "deployment/kept", "-n", "keep", "-o", "jsonpath={range .items[*]}{.metadata.uid}{' '}{end}")
	if before != after || before == "" {
		t.Fatalf("objects changed across restart: %q -> %q", before, after)
	}
	out := kubectl(t, c, "get", "deployment", "kept", "-n", "keep", "-o", "jsonpath={.spec.replicas}")
	if out != "3" {
		t.Fatalf("replicas after restart: %q", out)
	}
}

// TestCompaction: the server compacts etcd periodically, so a watch from a revision older than the last
// compaction gets 410 Gone (here the compaction interval is 2s).
func TestCompaction(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--etcd-compaction-interval", "2s"}})
	ctx := context.Background()
	cms := c.Client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("new-%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, func() error {
		_, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return nil
		}
		return fmt.Errorf("list at compacted revision: %v", err)
	})
	// The cache still remembers those events, so a watch from there is served from memory.
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Fatalf("watch from the cache's history: %s %v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event from a watch within the cache's history")
	}
}
