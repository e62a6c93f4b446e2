package e2e

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestDefaultStorageClass: a claim created without a class gets the default StorageClass (the newest of
// several defaults); one asking for "" stays classless; kubectl marks the default class.
func TestDefaultStorageClass(t *testing.T) {
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--disable-scheduler"}})
	ctx := context.Background()
	claim := func(name, class string) string {
		return `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ` + name + `}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
` + class
	}
	// Without a default, a classless claim stays classless.
	kubectlIn(t, c, claim("before", ""), "create", "-f", "-")
	kubectlIn(t, c, `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: older
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: example.com/none
`, "create", "-f", "-")
	// creationTimestamp has second resolution: the second default is made a second later, and its name sorts
	// after the first's, so only "newest wins" picks it.
	time.Sleep(1100 * time.Millisecond)
	kubectlIn(t, c, `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: zeta
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: example.com/none
`, "create", "-f", "-")
	kubectlIn(t, c, claim("defaulted", ""), "create", "-f", "-")
	kubectlIn(t, c, claim("none", `  storageClassName: ""
`), "create", "-f", "-")
	pvcs := c.Client.CoreV1().PersistentVolumeClaims("default")
	for name, want := range map[string]string{"before": "<nil>", "defaulted": "zeta", "none": ""} {
		p, err := pvcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := "<nil>"
		if p.Spec.StorageClassName != nil {
			got = *p.Spec.StorageClassName
		}
		if got != want {
			t.Errorf("claim %s: storageClassName %q, want %q", name, got, want)
		}
	}
	mustContain(t, kubectl(t, c, "get", "storageclass"), "zeta (default)", "older (default)")
}
