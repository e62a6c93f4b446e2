package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"k8s.io/apimachinery/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The streaming endpoints (exec, attach, portForward) are served as upstream's kubelet serves them: the agent
// asks the container runtime (CRI Exec, Attach, PortForward) for a one-time URL on the runtime's own streaming
// server and proxies the caller's upgraded connection (SPDY) to it. Protocol negotiation (remotecommand
// v1-v5, portforward.k8s.io) happens end to end between the API server and the runtime.

// streamQuery reads the kubelet's exec/attach parameters: input, output, error, tty ("1" or "true") and,
// for exec, command (repeated).
type streamQuery struct {
	stdin, stdout, stderr, tty bool
	command                    []string
}

func parseStreamQuery(q url.Values) streamQuery {
	flag := func(names ...string) bool {
		for _, n := range names {
			if b, err := strconv.ParseBool(q.Get(n)); err == nil && b {
				return true
			}
		}
		return false
	}
	return streamQuery{stdin: flag("input", "stdin"), stdout: flag("output", "stdout"), stderr: flag("error", "stderr"),
		tty: flag("tty"), command: q["command"]}
}

// findSandbox returns the ready sandbox of the pod namespace/name (and, if uid is set, that uid).
func findSandbox(ctx context.Context, rs Runtime, ns, name, uid string) (string, error) {
	labels := map[string]string{"io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.name": name}
	if uid != "" {
		labels["io.kubernetes.pod.uid"] = uid
	}
	sbs, err := rs.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: labels,
		State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}})
	if err != nil {
		return "", err
	}
	if len(sbs) == 0 {
		return "", fmt.Errorf("pod %s/%s is not running on this node", ns, name)
	}
	return sbs[0].Id, nil
}

// findContainer returns the running container `container` of the pod.
func findContainer(ctx context.Context, rs Runtime, ns, name, uid, container string) (string, error) {
	sb, err := findSandbox(ctx, rs, ns, name, uid)
	if err != nil {
		return "", err
	}
	cs, err := rs.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: sb,
		LabelSelector: map[string]string{"io.kubernetes.container.name": container},
		State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}})
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("container %s is not running in pod %s/%s", container, ns, name)
	}
	return cs[0].Id, nil
}

type responder struct{}

func (responder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// proxyTo hands the upgraded connection to the runtime's streaming URL.
func proxyTo(w http.ResponseWriter, r *http.Request, target string) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, fmt.Sprintf("runtime returned a bad streaming URL %q: %v", target, err), http.StatusInternalServerError)
		return
	}
	h := proxy.NewUpgradeAwareHandler(u, nil, false, true, responder{})
	h.ServeHTTP(w, r)
}

func serveExec(w http.ResponseWriter, r *http.Request, rs Runtime, attach bool) {
	q := parseStreamQuery(r.URL.Query())
	if !q.stdin && !q.stdout && !q.stderr {
		http.Error(w, "you must specify at least 1 of stdin, stdout, stderr", http.StatusBadRequest)
		return
	}
	if !attach && len(q.command) == 0 {
		http.Error(w, "you must specify at least one command for the container", http.StatusBadRequest)
		return
	}
	id, err := findContainer(r.Context(), rs, r.PathValue("ns"), r.PathValue("pod"), r.URL.Query().Get("uid"), r.PathValue("container"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	var target string
	if attach {
		resp, aerr := rs.Attach(r.Context(), &runtimeapi.AttachRequest{ContainerId: id, Stdin: q.stdin, Stdout: q.stdout,
			Stderr: q.stderr && !q.tty, Tty: q.tty})
		if aerr == nil {
			target = resp.Url
		}
		err = aerr
	} else {
		resp, eerr := rs.Exec(r.Context(), &runtimeapi.ExecRequest{ContainerId: id, Cmd: q.command, Stdin: q.stdin,
			Stdout: q.stdout, Stderr: q.stderr && !q.tty, Tty: q.tty})
		if eerr == nil {
			target = resp.Url
		}
		err = eerr
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	proxyTo(w, r, target)
}

func servePortForward(w http.ResponseWriter, r *http.Request, rs Runtime) {
	sb, err := findSandbox(r.Context(), rs, r.PathValue("ns"), r.PathValue("pod"), r.URL.Query().Get("uid"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	var ports []int32
	for _, p := range r.URL.Query()["port"] {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			http.Error(w, fmt.Sprintf("invalid port %q", p), http.StatusBadRequest)
			return
		}
		ports = append(ports, int32(n))
	}
	resp, err := rs.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: sb, Port: ports})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	proxyTo(w, r, resp.Url)
}
