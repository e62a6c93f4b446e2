package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	remote "k8s.io/cri-client/pkg"

	"skiff/internal/kubelet"
	"skiff/test/e2e/framework"
)

// TestPodsRunOnContainerd runs `skiff server` with its node agent (containerd started by skiff, offline images
// imported from the data dir, the skiff0 pod bridge): pods made with upstream kubectl are scheduled to the node,
// really run, get an IP on the pod network, answer HTTP, survive a restart of skiff without restarting, finish
// with the right phase and are torn down on delete.
func TestPodsRunOnContainerd(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{
		filepath.Join(imgDir, "busybox.tar"), filepath.Join(imgDir, "testserver.tar")}})
	ctx := context.Background()
	ctrd := kubelet.ContainerdSocket(c.DataDir)
	rs, err := remote.NewRemoteRuntimeService(ctx, "unix://"+ctrd, 10*time.Second, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, c, "get", "nodes", "-o", "wide")
	mustContain(t, out, "skiff-e2e", "Ready", "containerd://")

	waitPhase := func(name string, phase corev1.PodPhase) *corev1.Pod {
		t.Helper()
		var pod *corev1.Pod
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			pod = p
			if p.Status.Phase != phase {
				return fmt.Errorf("pod %s phase %q (want %s), node %q, statuses %+v", name, p.Status.Phase, phase, p.Spec.NodeName, p.Status.ContainerStatuses)
			}
			return nil
		})
		return pod
	}

	t.Run("ServesHTTPOnThePodNetwork", func(t *testing.T) {
		kubectl(t, c, "run", "web", "--image=skiff.local/testserver:1", "--image-pull-policy=Never", "--port=8080")
		pod := waitPhase("web", corev1.PodRunning)
		// The pod's IP is in its node's pod subnet, which the control plane allocated from --cluster-cidr.
		node, err := c.Client.CoreV1().Nodes().Get(ctx, "skiff-e2e", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		subnet, err := netip.ParsePrefix(node.Spec.PodCIDR)
		if err != nil || !netip.MustParsePrefix("10.42.0.0/16").Contains(subnet.Addr()) || subnet.Bits() != 24 {
			t.Fatalf("node spec.podCIDR %q (%v), want a /24 of 10.42.0.0/16", node.Spec.PodCIDR, err)
		}
		if ip, err := netip.ParseAddr(pod.Status.PodIP); pod.Spec.NodeName != "skiff-e2e" || err != nil || !subnet.Contains(ip) {
			t.Fatalf("placed on %q with IP %q, node subnet %s", pod.Spec.NodeName, pod.Status.PodIP, subnet)
		}
		var body string
		eventually(t, 20*time.Second, func() error {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + pod.Status.PodIP + ":8080/hostname")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return nil
		})
		if body != "web" {
			t.Fatalf("hostname served by the pod: %q", body)
		}
		out := kubectl(t, c, "get", "pod", "web", "-o", "wide")
		mustContain(t, out, "Running", "1/1", "skiff-e2e", pod.Status.PodIP)

		// A restart of skiff does not restart the pod: the agent adopts the running containers.
		before := pod.Status.ContainerStatuses[0].ContainerID
		c.Restart(t)
		eventually(t, 30*time.Second, func() error {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + pod.Status.PodIP + ":8080/hostname")
			if err != nil {
				return err
			}
			resp.Body.Close()
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning || p.Status.ContainerStatuses[0].ContainerID != before || p.Status.ContainerStatuses[0].RestartCount != 0 {
				return fmt.Errorf("after restart: phase %s, container %s (was %s), restarts %d", p.Status.Phase,
					p.Status.ContainerStatuses[0].ContainerID, before, p.Status.ContainerStatuses[0].RestartCount)
			}
			return nil
		})
		kubectl(t, c, "delete", "pod", "web", "--wait", "--timeout=60s")
		if _, err := c.Client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("pod still there after delete: %v", err)
		}
		sbs, _ := rs.ListPodSandbox(ctx, nil)
		if len(sbs) != 0 {
			t.Fatalf("%d sandboxes left after delete", len(sbs))
		}
	})

	t.Run("PhasesFromExitCodes", func(t *testing.T) {
		kubectl(t, c, "run", "ok", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never", "--", "sh", "-c", "exit 0")
		kubectl(t, c, "run", "bad", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--restart=Never", "--", "sh", "-c", "exit 3")
		waitPhase("ok", corev1.PodSucceeded)
		bad := waitPhase("bad", corev1.PodFailed)
		term := bad.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 3 || term.Reason != "Error" {
			t.Fatalf("terminated state %+v", bad.Status.ContainerStatuses[0].State)
		}
		kubectl(t, c, "delete", "pod", "ok", "bad", "--wait", "--timeout=60s")
		// Finished pods leave the API at once; their sandboxes (and network namespaces) must go too.
		eventually(t, 30*time.Second, func() error {
			sbs, err := rs.ListPodSandbox(ctx, nil)
			if err != nil {
				return err
			}
			if len(sbs) != 0 {
				return fmt.Errorf("%d sandboxes left", len(sbs))
			}
			return nil
		})
	})

	t.Run("CrashLoopBackOff", func(t *testing.T) {
		kubectl(t, c, "run", "crash", "--image=docker.io/library/busybox:1.36", "--image-pull-policy=Never", "--", "sh", "-c", "echo dying; exit 1")
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "crash", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(p.Status.ContainerStatuses) == 0 {
				return fmt.Errorf("no container status yet")
			}
			cs := p.Status.ContainerStatuses[0]
			if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.RestartCount < 1 ||
				cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
				return fmt.Errorf("container status %+v", cs)
			}
			return nil
		})
		out := kubectl(t, c, "get", "pod", "crash")
		mustContain(t, out, "CrashLoopBackOff")
		out = kubectl(t, c, "logs", "crash", "--previous")
		mustContain(t, out, "dying")
		// The agent's events show in kubectl describe, as a kubelet's do.
		eventually(t, 20*time.Second, func() error {
			out := kubectl(t, c, "describe", "pod", "crash")
			for _, want := range []string{"Scheduled", "Pulled", "Created", "Started", "BackOff"} {
				if !strings.Contains(out, want) {
					return fmt.Errorf("describe has no %s event:\n%s", want, out)
				}
			}
			return nil
		})
		kubectl(t, c, "delete", "pod", "crash", "--wait", "--timeout=60s")
	})

	waitWaiting := func(name, reason, msgPart string) {
		t.Helper()
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return fmt.Errorf("no waiting state yet: %+v", p.Status.ContainerStatuses)
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			if w.Reason != reason || !strings.Contains(w.Message, msgPart) {
				return fmt.Errorf("waiting %s: %s", w.Reason, w.Message)
			}
			return nil
		})
	}

	t.Run("EnvFromConfigMapsSecretsAndFields", func(t *testing.T) {
		kubectl(t, c, "create", "configmap", "app-config", "--from-literal=greeting=hello")
		kubectl(t, c, "create", "secret", "generic", "app-secret", "--from-literal=password=s3cret")
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: envy
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "echo result=$GREETING/$PASSWORD/$POD_NAME/$CFG_greeting/$(GREETING)-x; sleep 3600"]
    envFrom:
    - configMapRef: {name: app-config}
      prefix: CFG_
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: password}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources:
      limits: {cpu: 500m, memory: 64Mi}
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		p := waitPhase("envy", corev1.PodRunning)
		logFile := filepath.Join(c.DataDir, "agent", "pods", fmt.Sprintf("default_envy_%s", p.UID), "main", "0.log")
		eventually(t, 20*time.Second, func() error {
			data, err := os.ReadFile(logFile)
			if err != nil {
				return err
			}
			if !strings.Contains(string(data), "result=hello/s3cret/envy/hello/hello-x") {
				return fmt.Errorf("log: %q", data)
			}
			return nil
		})
		// kubectl logs goes through the API server to the node agent.
		out := kubectl(t, c, "logs", "envy")
		mustContain(t, out, "result=hello/s3cret/envy/hello/hello-x")
		out = kubectl(t, c, "logs", "envy", "--timestamps", "--tail=1")
		if !strings.HasPrefix(out, "20") || !strings.Contains(out, "result=") {
			t.Fatalf("logs --timestamps --tail=1: %q", out)
		}
		kubectl(t, c, "delete", "pod", "envy", "--wait", "--timeout=60s")

		// Services of the namespace with a cluster IP become environment variables of pods started later,
		// unless enableServiceLinks is false. (The cluster IP is given here: allocation comes with networking.)
		kubectl(t, c, "create", "service", "clusterip", "my-db", "--tcp=5432:5432", "--clusterip=10.43.0.50")
		for name, links := range map[string]string{"linked": "true", "unlinked": "false"} {
			kubectlIn(t, c, `apiVersion: v1
kind: Pod
metadata:
  name: `+name+`
spec:
  enableServiceLinks: `+links+`
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`, "apply", "-f", "-")
		}
		kubectl(t, c, "wait", "--for=condition=Ready", "pod/linked", "pod/unlinked", "--timeout=60s")
		out = kubectl(t, c, "exec", "linked", "--", "env")
		mustContain(t, out, "MY_DB_SERVICE_HOST=10.43.0.50\n", "MY_DB_SERVICE_PORT=5432\n", "MY_DB_SERVICE_PORT_5432_5432=5432\n",
			"MY_DB_PORT=tcp://10.43.0.50:5432\n", "MY_DB_PORT_5432_TCP_ADDR=10.43.0.50\n")
		if out := kubectl(t, c, "exec", "unlinked", "--", "env"); strings.Contains(out, "MY_DB_") {
			t.Fatalf("enableServiceLinks=false still got service variables:\n%s", out)
		}
		kubectl(t, c, "delete", "pod", "linked", "unlinked", "--wait", "--timeout=60s")
		kubectl(t, c, "delete", "service", "my-db")
	})

	t.Run("CreateContainerConfigError", func(t *testing.T) {
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: nokey
spec:
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: app-config, key: nope}}
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		waitWaiting("nokey", "CreateContainerConfigError", "couldn't find key nope in ConfigMap default/app-config")
		kubectl(t, c, "delete", "pod", "nokey", "--wait", "--timeout=60s")
	})

	t.Run("ImagePullErrors", func(t *testing.T) {
		// A registry address on loopback where nothing listens: the pull fails at once.
		w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=noimage"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		kubectl(t, c, "run", "noimage", "--image=127.0.0.1:1/missing:1", "--image-pull-policy=IfNotPresent")
		seen := map[string]string{}
		deadline := time.After(60 * time.Second)
		for seen["ErrImagePull"] == "" || seen["ImagePullBackOff"] == "" {
			select {
			case ev := <-w.ResultChan():
				if p, ok := ev.Object.(*corev1.Pod); ok && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Waiting != nil {
					st := p.Status.ContainerStatuses[0].State.Waiting
					seen[st.Reason] = st.Message
				}
			case <-deadline:
				t.Fatalf("waiting reasons seen: %v", seen)
			}
		}
		mustContain(t, seen["ErrImagePull"], "127.0.0.1:1/missing:1")
		mustContain(t, seen["ImagePullBackOff"], `Back-off pulling image "127.0.0.1:1/missing:1": ErrImagePull:`)
		kubectl(t, c, "delete", "pod", "noimage", "--wait", "--timeout=60s")
	})

	t.Run("ImagePullSecrets", func(t *testing.T) {
		// A private registry on loopback (go-containerregistry's, behind basic auth) holding the test server.
		reg := privateRegistry(t, "puller", "s3cret")
		image := reg + "/private/testserver:1"
		pushImage(t, filepath.Join(imgDir, "testserver.tar"), image, "puller", "s3cret")

		// Without credentials the pull is refused.
		kubectl(t, c, "run", "anon", "--image="+image, "--image-pull-policy=Always")
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "anon", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return fmt.Errorf("no waiting state yet")
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			if (w.Reason != "ErrImagePull" && w.Reason != "ImagePullBackOff") || !strings.Contains(w.Message, "401 Unauthorized") {
				return fmt.Errorf("waiting %s: %s", w.Reason, w.Message)
			}
			return nil
		})
		kubectl(t, c, "delete", "pod", "anon", "--wait", "--timeout=60s")

		// With a docker-registry secret (made by kubectl) named in imagePullSecrets it runs.
		kubectl(t, c, "create", "secret", "docker-registry", "regcred", "--docker-server="+reg,
			"--docker-username=puller", "--docker-password=s3cret")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "private"}, Spec: corev1.PodSpec{
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "missing"}, {Name: "regcred"}},
			Containers:       []corev1.Container{{Name: "web", Image: image, ImagePullPolicy: corev1.PullAlways}}}}
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPhase("private", corev1.PodRunning)
		out := kubectl(t, c, "get", "events", "--field-selector", "involvedObject.name=private")
		mustContain(t, out, "FailedToRetrieveImagePullSecret", "Unable to retrieve some image pull secrets (default/missing)", "Successfully pulled image")
		kubectl(t, c, "delete", "pod", "private", "--wait", "--timeout=60s")
	})

	t.Run("ConfigMapAndSecretVolumes", func(t *testing.T) {
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: vols
spec:
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "while true; do echo cfg=$(cat /etc/config/greeting) pw=$(cat /etc/secret/password) scratch=$(cat /scratch/x 2>/dev/null); echo hi > /scratch/x; sleep 1; done"]
    volumeMounts:
    - {name: config, mountPath: /etc/config}
    - {name: secret, mountPath: /etc/secret, readOnly: true}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: config
    configMap: {name: app-config}
  - name: secret
    secret: {secretName: app-secret, defaultMode: 0400}
  - name: scratch
    emptyDir: {}
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		p := waitPhase("vols", corev1.PodRunning)
		podDir := filepath.Join(c.DataDir, "agent", "pods", fmt.Sprintf("default_vols_%s", p.UID))
		logFile := filepath.Join(podDir, "main", "0.log")
		waitLog := func(want string) {
			t.Helper()
			eventually(t, 30*time.Second, func() error {
				data, err := os.ReadFile(logFile)
				if err != nil {
					return err
				}
				if !strings.Contains(string(data), want) {
					return fmt.Errorf("log has no %q: %q", want, data)
				}
				return nil
			})
		}
		waitLog("cfg=hello pw=s3cret scratch=hi")
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if !strings.Contains(string(mounts), filepath.Join(podDir, "volumes", "secret")+" ") {
			t.Fatalf("secret volume is not a tmpfs mount")
		}
		// An edit of the ConfigMap reaches the mounted file.
		kubectl(t, c, "patch", "configmap", "app-config", "--type=merge", "-p", `{"data":{"greeting":"updated"}}`)
		waitLog("cfg=updated")
		kubectl(t, c, "delete", "pod", "vols", "--wait", "--timeout=60s")
		mounts, _ = os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mounts), podDir) {
			t.Fatalf("volume mounts left after delete")
		}
	})

	t.Run("ProjectedVolume", func(t *testing.T) {
		kubectl(t, c, "create", "configmap", "proj-config", "--from-literal=greeting=bonjour", "--from-literal=unused=x")
		kubectl(t, c, "create", "secret", "generic", "proj-secret", "--from-literal=password=hunter2")
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: proj
  labels: {app: proj, tier: back-end}
spec:
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    resources: {limits: {memory: 64Mi}}
    volumeMounts:
    - {name: all, mountPath: /proj, readOnly: true}
  volumes:
  - name: all
    projected:
      defaultMode: 0440
      sources:
      - configMap:
          name: proj-config
          items: [{key: greeting, path: cfg/greeting, mode: 0600}]
      - secret: {name: proj-secret}
      - downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: mem, resourceFieldRef: {containerName: main, resource: limits.memory, divisor: 1Mi}}
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		p := waitPhase("proj", corev1.PodRunning)
		out := kubectl(t, c, "exec", "proj", "--", "sh", "-c",
			"cat /proj/cfg/greeting; echo; cat /proj/password; echo; cat /proj/labels; echo; cat /proj/mem; echo; stat -L -c %a /proj/cfg/greeting /proj/password; ls /proj")
		want := "bonjour\nhunter2\napp=\"proj\"\ntier=\"back-end\"\n64\n600\n440\ncfg\nlabels\nmem\npassword\n"
		if out != want {
			t.Fatalf("projected volume as the container sees it:\n%s\nwant:\n%s", out, want)
		}
		podDir := filepath.Join(c.DataDir, "agent", "pods", fmt.Sprintf("default_proj_%s", p.UID))
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if !strings.Contains(string(mounts), filepath.Join(podDir, "volumes", "all")+" ") {
			t.Fatalf("projected volume is not a tmpfs mount")
		}
		// A Secret edit reaches the projected file.
		kubectl(t, c, "patch", "secret", "proj-secret", "--type=merge", "-p", `{"stringData":{"password":"changed"}}`)
		eventually(t, 30*time.Second, func() error {
			got := kubectl(t, c, "exec", "proj", "--", "cat", "/proj/password")
			if got != "changed" {
				return fmt.Errorf("password file reads %q", got)
			}
			return nil
		})
		kubectl(t, c, "delete", "pod", "proj", "--wait", "--timeout=60s")
	})

	t.Run("InitContainers", func(t *testing.T) {
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: initialized
spec:
  initContainers:
  - name: prepare
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "sleep 1; echo from-init > /work/msg"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "echo main-read=$(cat /work/msg); sleep 3600"]
    volumeMounts: [{name: work, mountPath: /work}]
  volumes:
  - name: work
    emptyDir: {}
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		p := waitPhase("initialized", corev1.PodRunning)
		if len(p.Status.InitContainerStatuses) != 1 || p.Status.InitContainerStatuses[0].State.Terminated == nil ||
			p.Status.InitContainerStatuses[0].State.Terminated.ExitCode != 0 {
			t.Fatalf("init container status %+v", p.Status.InitContainerStatuses)
		}
		logFile := filepath.Join(c.DataDir, "agent", "pods", fmt.Sprintf("default_initialized_%s", p.UID), "main", "0.log")
		eventually(t, 20*time.Second, func() error {
			data, _ := os.ReadFile(logFile)
			if !strings.Contains(string(data), "main-read=from-init") {
				return fmt.Errorf("log %q", data)
			}
			return nil
		})
		kubectl(t, c, "delete", "pod", "initialized", "--wait", "--timeout=60s")
	})

	t.Run("Probes", func(t *testing.T) {
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  containers:
  - name: web
    image: skiff.local/testserver:1
    imagePullPolicy: Never
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 1
      failureThreshold: 1
  - name: rpc
    image: skiff.local/testserver:1
    imagePullPolicy: Never
    args: ["--http-port=8081", "--grpc-port=9091"]
    readinessProbe:
      grpc: {port: 9091}
      periodSeconds: 1
      failureThreshold: 1
  - name: flaky
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "touch /tmp/alive; sleep 3; rm /tmp/alive; sleep 3600"]
    livenessProbe:
      exec: {command: ["test", "-f", "/tmp/alive"]}
      periodSeconds: 1
      failureThreshold: 2
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		p := waitPhase("probed", corev1.PodRunning)
		cs := func(p *corev1.Pod, name string) corev1.ContainerStatus {
			for _, s := range p.Status.ContainerStatuses {
				if s.Name == name {
					return s
				}
			}
			return corev1.ContainerStatus{}
		}
		// The failing liveness probe restarts "flaky".
		eventually(t, 60*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "probed", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if n := cs(p, "flaky").RestartCount; n < 1 {
				return fmt.Errorf("flaky restarts %d", n)
			}
			return nil
		})
		// Readiness follows the web container's /healthz and the rpc container's gRPC health service.
		eventually(t, 30*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "probed", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !cs(p, "web").Ready || !cs(p, "rpc").Ready {
				return fmt.Errorf("web ready %v, rpc ready %v", cs(p, "web").Ready, cs(p, "rpc").Ready)
			}
			return nil
		})
		for _, port := range []string{"8080", "8081"} {
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+p.Status.PodIP+":"+port+"/healthz/fail", "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		eventually(t, 30*time.Second, func() error {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "probed", metav1.GetOptions{})
			if err != nil {
				return err
			}
			ready := false
			for _, cond := range p.Status.Conditions {
				ready = ready || (cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue)
			}
			if cs(p, "web").Ready || cs(p, "rpc").Ready || ready {
				return fmt.Errorf("still ready after the health checks failed")
			}
			return nil
		})
		// Each failed probe is an Unhealthy event saying why, in upstream's words.
		eventually(t, 30*time.Second, func() error {
			evs, err := c.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=probed,reason=Unhealthy"})
			if err != nil {
				return err
			}
			var msgs []string
			for _, e := range evs.Items {
				msgs = append(msgs, e.Message)
			}
			all := strings.Join(msgs, "\n")
			for _, want := range []string{"Liveness probe failed: ", "Readiness probe failed: HTTP probe failed with statuscode: 500",
				`Readiness probe failed: service unhealthy (responded with "NOT_SERVING")`} {
				if !strings.Contains(all, want) {
					return fmt.Errorf("no event %q among %q", want, msgs)
				}
			}
			return nil
		})
		// kubectl picks the first container itself; the API asks for one.
		_, err = c.Client.CoreV1().Pods("default").GetLogs("probed", &corev1.PodLogOptions{}).Stream(ctx)
		if err == nil || !strings.Contains(err.Error(), "a container name must be specified for pod probed, choose one of: [web rpc flaky]") {
			t.Fatalf("logs without a container: %v", err)
		}
		lctx, lcancel := context.WithTimeout(ctx, 20*time.Second)
		defer lcancel()
		follow := c.KubectlCmd(lctx, "logs", "-f", "probed", "-c", "web")
		stdout, err := follow.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		// The readiness probes keep the test server logging: a followed log shows new lines as they come.
		buf := make([]byte, 4096)
		got := ""
		for !strings.Contains(got, "GET /healthz") {
			n, err := stdout.Read(buf)
			if err != nil {
				t.Fatalf("logs -f ended: %v (got %q)", err, got)
			}
			got += string(buf[:n])
		}
		lcancel()
		_ = follow.Wait()
		kubectl(t, c, "delete", "pod", "probed", "--wait", "--timeout=60s")
	})

	t.Run("PreStopThenSIGTERMWithinGrace", func(t *testing.T) {
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: graceful
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: main
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'echo got-sigterm after $(cat /tmp/prestop); exit 0' TERM; echo started; while [ ! -f /tmp/poststart ]; do sleep 0.2; done; echo saw-poststart; while true; do sleep 1; done"]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "touch /tmp/poststart"]}
      preStop:
        exec: {command: ["sh", "-c", "echo prestop-ran > /tmp/prestop"]}
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		waitPhase("graceful", corev1.PodRunning)
		lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
		defer lcancel()
		follow := c.KubectlCmd(lctx, "logs", "-f", "graceful")
		var logs strings.Builder
		follow.Stdout = &logs
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		start := time.Now()
		kubectl(t, c, "delete", "pod", "graceful", "--wait", "--timeout=60s")
		took := time.Since(start)
		_ = follow.Wait()
		out := logs.String()
		// The SIGTERM handler prints what the preStop hook wrote: the hook ran first.
		mustContain(t, out, "started", "saw-poststart", "got-sigterm after prestop-ran")
		// The handler's line proves the container got SIGTERM (not SIGKILL after the grace period) and exited
		// on it; the time is reported, not asserted.
		t.Logf("pod with a preStop hook and a SIGTERM handler deleted in %s (grace period 10s)", took.Round(100*time.Millisecond))
	})

	t.Run("OOMKilled", func(t *testing.T) {
		pod := `apiVersion: v1
kind: Pod
metadata:
  name: hungry
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: skiff.local/testserver:1
    imagePullPolicy: Never
    resources:
      limits: {memory: 32Mi}
`
		kubectlIn(t, c, pod, "apply", "-f", "-")
		p := waitPhase("hungry", corev1.PodRunning)
		// Ask the test server for far more memory than its limit: the kernel kills it. Asked again until the
		// pod has failed, in case a request does not reach it (a new pod's address, just reused, may take a
		// moment to answer).
		eventually(t, 60*time.Second, func() error {
			cur, err := c.Client.CoreV1().Pods("default").Get(ctx, "hungry", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.Status.Phase == corev1.PodFailed {
				return nil
			}
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + p.Status.PodIP + ":8080/alloc?mb=256")
			if err == nil {
				resp.Body.Close()
			}
			return fmt.Errorf("pod hungry is %s (last request: %v)", cur.Status.Phase, err)
		})
		failed := waitPhase("hungry", corev1.PodFailed)
		term := failed.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
			t.Fatalf("terminated state %+v, want OOMKilled with exit code 137", failed.Status.ContainerStatuses[0].State)
		}
		kubectl(t, c, "delete", "pod", "hungry", "--wait", "--timeout=60s")
	})
}
