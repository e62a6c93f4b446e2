package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// kubectlExit runs kubectl with stdin and returns stdout, stderr and the exit code.
func kubectlExit(t *testing.T, c *framework.Cluster, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := c.Kubectl(ctx, stdin, args...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, errOut, 0
	case errors.As(err, &exit):
		return out, errOut, exit.ExitCode()
	}
	t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	return "", "", -1
}

func quotaPodYAML(name, ns, requests, limits string) string {
	y := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s}\nspec:\n  containers:\n  - name: app\n    image: busybox\n", name, ns)
	if requests != "" || limits != "" {
		y += "    resources:\n"
		if requests != "" {
			y += "      requests: {" + requests + "}\n"
		}
		if limits != "" {
			y += "      limits: {" + limits + "}\n"
		}
	}
	return y
}

// waitQuota waits until the quota's status.used has want for every key given. It reads the watch cache
// (resourceVersion 0), which admission reads too, so a quota seen counted here is enforced.
func waitQuota(t *testing.T, c *framework.Cluster, ns, name string, want map[corev1.ResourceName]string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		q, err := c.Client.CoreV1().ResourceQuotas(ns).Get(context.Background(), name, metav1.GetOptions{ResourceVersion: "0"})
		if err != nil {
			return err
		}
		for k, v := range want {
			u, ok := q.Status.Used[k]
			if !ok || u.Cmp(resource.MustParse(v)) != 0 {
				return fmt.Errorf("status.used = %v, want %s=%s (hard %v)", q.Status.Used, k, v, q.Status.Hard)
			}
		}
		return nil
	})
}

func TestLimitRange(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	kubectl(t, c, "create", "namespace", "limits")
	kubectlIn(t, c, `apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 300m, memory: 128Mi}
    defaultRequest: {cpu: 100m, memory: 64Mi}
    max: {cpu: 500m}
  - type: PersistentVolumeClaim
    max: {storage: 2Gi}
`, "apply", "-f", "-")
	// Admission reads LimitRanges from the watch cache, as a resourceVersion=0 read does.
	eventually(t, 10*time.Second, func() error {
		_, err := c.Client.CoreV1().LimitRanges("limits").Get(context.Background(), "defaults", metav1.GetOptions{ResourceVersion: "0"})
		return err
	})

	t.Run("DefaultsApplied", func(t *testing.T) {
		kubectl(t, c, "run", "plain", "-n", "limits", "--image=busybox")
		pod, err := c.Client.CoreV1().Pods("limits").Get(context.Background(), "plain", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := pod.Spec.Containers[0].Resources
		if r.Limits.Cpu().String() != "300m" || r.Limits.Memory().String() != "128Mi" ||
			r.Requests.Cpu().String() != "100m" || r.Requests.Memory().String() != "64Mi" {
			t.Fatalf("resources = %+v", r)
		}
		want := "LimitRanger plugin set: cpu, memory request for container plain; cpu, memory limit for container plain"
		if got := pod.Annotations["kubernetes.io/limit-ranger"]; got != want {
			t.Fatalf("annotation = %q", got)
		}
		if pod.Status.QOSClass != corev1.PodQOSBurstable {
			t.Fatalf("qosClass = %s, want Burstable (from the defaulted resources)", pod.Status.QOSClass)
		}
	})

	t.Run("OverMaxRefused", func(t *testing.T) {
		_, stderr, code := kubectlExit(t, c, quotaPodYAML("big", "limits", "cpu: 200m", "cpu: 1"), "create", "-f", "-")
		if code != 1 {
			t.Fatalf("exit code %d, want 1; stderr: %s", code, stderr)
		}
		mustContain(t, stderr, "Error from server (Forbidden)",
			`pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1`)
		_, err := c.Client.CoreV1().Pods("limits").Get(context.Background(), "big", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("refused pod exists: %v", err)
		}
	})

	t.Run("ClaimOverMaxRefused", func(t *testing.T) {
		_, stderr, code := kubectlExit(t, c, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: huge, namespace: limits}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
`, "create", "-f", "-")
		if code != 1 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		mustContain(t, stderr, `persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi`)
	})
}

func TestResourceQuota(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	ctx := context.Background()

	t.Run("PodCount", func(t *testing.T) {
		kubectl(t, c, "create", "namespace", "q-pods")
		kubectl(t, c, "create", "quota", "pods", "-n", "q-pods", "--hard=pods=2")
		waitQuota(t, c, "q-pods", "pods", map[corev1.ResourceName]string{"pods": "0"})
		kubectl(t, c, "run", "one", "-n", "q-pods", "--image=busybox")
		kubectl(t, c, "run", "two", "-n", "q-pods", "--image=busybox")
		_, stderr, code := kubectlExit(t, c, "", "run", "three", "-n", "q-pods", "--image=busybox")
		if code != 1 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		mustContain(t, stderr, `pods "three" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2`)
		waitQuota(t, c, "q-pods", "pods", map[corev1.ResourceName]string{"pods": "2"})

		// The controller gives a deleted pod's share back, and the next pod fits.
		kubectl(t, c, "delete", "pod", "one", "-n", "q-pods", "--wait=false")
		waitQuota(t, c, "q-pods", "pods", map[corev1.ResourceName]string{"pods": "1"})
		kubectl(t, c, "run", "three", "-n", "q-pods", "--image=busybox")
		waitQuota(t, c, "q-pods", "pods", map[corev1.ResourceName]string{"pods": "2"})
	})

	t.Run("ComputeResources", func(t *testing.T) {
		kubectl(t, c, "create", "namespace", "q-compute")
		kubectl(t, c, "create", "quota", "compute", "-n", "q-compute", "--hard=requests.cpu=2,requests.memory=1Gi,limits.cpu=4")
		waitQuota(t, c, "q-compute", "compute", map[corev1.ResourceName]string{"requests.cpu": "0"})

		_, stderr, code := kubectlExit(t, c, quotaPodYAML("bare", "q-compute", "", ""), "create", "-f", "-")
		if code != 1 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		mustContain(t, stderr, `pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: app; requests.cpu for: app; requests.memory for: app`)

		kubectlIn(t, c, quotaPodYAML("first", "q-compute", "cpu: 1500m, memory: 256Mi", "cpu: 2"), "create", "-f", "-")
		waitQuota(t, c, "q-compute", "compute", map[corev1.ResourceName]string{"requests.cpu": "1500m", "requests.memory": "256Mi", "limits.cpu": "2"})
		_, stderr, code = kubectlExit(t, c, quotaPodYAML("second", "q-compute", "cpu: 1, memory: 256Mi", "cpu: 1"), "create", "-f", "-")
		if code != 1 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		mustContain(t, stderr, `pods "second" is forbidden: exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=1500m, limited: requests.cpu=2`)
		kubectlIn(t, c, quotaPodYAML("small", "q-compute", "cpu: 500m, memory: 256Mi", "cpu: 1"), "create", "-f", "-")
		waitQuota(t, c, "q-compute", "compute", map[corev1.ResourceName]string{"requests.cpu": "2", "requests.memory": "512Mi", "limits.cpu": "3"})

		kubectl(t, c, "delete", "pod", "first", "-n", "q-compute", "--wait=false")
		waitQuota(t, c, "q-compute", "compute", map[corev1.ResourceName]string{"requests.cpu": "500m", "requests.memory": "256Mi", "limits.cpu": "1"})
		out := kubectl(t, c, "describe", "quota", "compute", "-n", "q-compute")
		mustContain(t, out, "requests.cpu", "500m")
	})

	t.Run("ConfigMapCount", func(t *testing.T) {
		kubectl(t, c, "create", "namespace", "q-cm")
		kubectl(t, c, "create", "quota", "objects", "-n", "q-cm", "--hard=count/configmaps=3")
		// The namespace's kube-root-ca.crt ConfigMap counts too.
		eventually(t, 30*time.Second, func() error {
			_, err := c.Client.CoreV1().ConfigMaps("q-cm").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return err
		})
		waitQuota(t, c, "q-cm", "objects", map[corev1.ResourceName]string{"count/configmaps": "1"})
		kubectl(t, c, "create", "configmap", "a", "-n", "q-cm")
		// A create refused by storage (the name is taken) gives its charge back at once.
		_, stderr, code := kubectlExit(t, c, "", "create", "configmap", "a", "-n", "q-cm")
		if code != 1 || !strings.Contains(stderr, "already exists") {
			t.Fatalf("second create of a: exit %d, stderr: %s", code, stderr)
		}
		kubectl(t, c, "create", "configmap", "b", "-n", "q-cm")
		_, stderr, code = kubectlExit(t, c, "", "create", "configmap", "c", "-n", "q-cm")
		if code != 1 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		mustContain(t, stderr, `configmaps "c" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=3, limited: count/configmaps=3`)
		kubectl(t, c, "delete", "configmap", "a", "-n", "q-cm")
		waitQuota(t, c, "q-cm", "objects", map[corev1.ResourceName]string{"count/configmaps": "2"})
		kubectl(t, c, "create", "configmap", "c", "-n", "q-cm")
	})

	t.Run("ConcurrentCreatesStayUnderQuota", func(t *testing.T) {
		kubectl(t, c, "create", "namespace", "q-race")
		kubectl(t, c, "create", "quota", "secrets", "-n", "q-race", "--hard=secrets=5")
		waitQuota(t, c, "q-race", "secrets", map[corev1.ResourceName]string{"secrets": "0"})
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, refused := 0, 0
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Client.CoreV1().Secrets("q-race").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i)}}, metav1.CreateOptions{})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					created++
				case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: secrets"):
					refused++
				default:
					t.Errorf("create: %v", err)
				}
			}()
		}
		wg.Wait()
		if created != 5 || refused != 15 {
			t.Fatalf("created %d, refused %d; want 5 and 15", created, refused)
		}
		waitQuota(t, c, "q-race", "secrets", map[corev1.ResourceName]string{"secrets": "5"})
	})
}
