package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

// Streaming subresources of pods (exec, attach, portforward) reach the node agent's HTTPS port as upstream's
// do. Clients negotiate one of three shapes and the API server serves each:
//
//   - SPDY upgrade (older kubectl, or KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false): the upgraded connection is
//     proxied unchanged to the agent, which proxies it to the container runtime's streaming server.
//   - WebSocket with the channel.k8s.io protocols (kubectl exec/attach/cp by default): the API server ends the
//     WebSocket itself and speaks SPDY remotecommand to the agent, translating streams, resize events and the
//     exit status between the two.
//   - WebSocket with SPDY/3.1+portforward.k8s.io (kubectl port-forward by default): the client runs SPDY
//     inside WebSocket binary messages; the API server opens a SPDY upgrade to the agent and copies bytes.

const streamIdleTimeout = 4 * time.Hour

// kubeletTLS is the TLS configuration the API server reaches node agents with.
func (s *Server) kubeletTLS() *tls.Config {
	if s.cfg.KubeletClient == nil {
		return nil
	}
	if t, ok := s.cfg.KubeletClient.Transport.(*http.Transport); ok {
		return t.TLSClientConfig
	}
	return nil
}

// podForStream loads the pod and checks what every streaming subresource needs.
func (s *Server) podForStream(ctx context.Context, res *resource, ns, name string) (*corev1.Pod, error) {
	obj, err := s.getObject(ctx, res, ns, name, "")
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	return pod, nil
}

// streamContainer resolves the container named in the request, as upstream: the only container when none
// is named, init and ephemeral containers by name.
func streamContainer(pod *corev1.Pod, container string) (string, error) {
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			names := make([]string, 0, len(pod.Spec.Containers))
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " ")))
		}
		return pod.Spec.Containers[0].Name, nil
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == container {
			return container, nil
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			return container, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == container {
			return container, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod.Name))
}

// kubeletURL is the agent endpoint of the node the pod runs on, from the Node object's address and
// daemonEndpoints.
func (s *Server) kubeletURL(ctx context.Context, pod *corev1.Pod, path string) (*url.URL, error) {
	if s.cfg.KubeletClient == nil {
		return nil, apierrors.NewServiceUnavailable("no client for node agents is configured")
	}
	nodeRes := s.resources[corev1.SchemeGroupVersion.WithResource("nodes")]
	nobj, err := s.getObject(ctx, nodeRes, "", pod.Spec.NodeName, "")
	if err != nil {
		return nil, err
	}
	node := nobj.(*corev1.Node)
	host := ""
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && host == "" {
			host = a.Address
		}
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if host == "" || port == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has no address or kubelet port", node.Name))
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port))), Path: path}, nil
}

func queryBool(q url.Values, name string) bool {
	b, _ := strconv.ParseBool(q.Get(name))
	return b
}

// podStream serves pods/exec, pods/attach and pods/portforward.
func (s *Server) podStream(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	// Admission comes first, as upstream's connect handler (before the pod is looked up).
	if err := s.admitConnect(r.Context(), ri, res, r.URL.Query()); err != nil {
		s.writeError(w, r, err)
		return
	}
	pod, err := s.podForStream(r.Context(), res, ri.Namespace, ri.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	params := url.Values{}
	params.Set("uid", string(pod.UID))
	var path string
	tty := false
	switch ri.Subresource {
	case "exec", "attach":
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			verb := "exec into"
			if ri.Subresource == "attach" {
				verb = "attach to"
			}
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("cannot %s a container in a completed pod; current phase is %s", verb, pod.Status.Phase)))
			return
		}
		container, err := streamContainer(pod, q.Get("container"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var stdin, stdout, stderr bool
		stdin, stdout, stderr, tty = queryBool(q, "stdin"), queryBool(q, "stdout"), queryBool(q, "stderr"), queryBool(q, "tty")
		if !stdin && !stdout && !stderr {
			s.writeError(w, r, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr"))
			return
		}
		if ri.Subresource == "exec" && len(q["command"]) == 0 {
			s.writeError(w, r, apierrors.NewBadRequest("you must specify at least one command for the container"))
			return
		}
		if tty && stderr {
			// As upstream: with a terminal, stderr is merged into stdout.
			stderr = false
		}
		for k, v := range map[string]bool{"input": stdin, "output": stdout, "error": stderr, "tty": tty} {
			if v {
				params.Set(k, "1")
			}
		}
		params["command"] = q["command"]
		path = fmt.Sprintf("/%s/%s/%s/%s", ri.Subresource, pod.Namespace, pod.Name, container)
	case "portforward":
		for _, p := range q["ports"] {
			for _, one := range strings.Split(p, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(one), 10, 16)
				if err != nil || n == 0 {
					s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid port %q: must be between 1 and 65535", one)))
					return
				}
				params.Add("port", strconv.FormatUint(n, 10))
			}
		}
		path = fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	}
	target, err := s.kubeletURL(r.Context(), pod, path)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	target.RawQuery = params.Encode()
	// The client's own credentials are for the API server only; the agent sees the API server's certificate.
	r.Header.Del("Authorization")
	switch {
	case ri.Subresource != "portforward" && wsstream.IsWebSocketRequest(r):
		s.translateRemoteCommand(w, r, target, params, tty)
	case ri.Subresource == "portforward" && wsstream.IsWebSocketRequestWithTunnelingProtocol(r):
		s.tunnelPortForward(w, r, target)
	default:
		h := proxy.NewUpgradeAwareHandler(target, &http.Transport{TLSClientConfig: s.kubeletTLS()}, false, true, streamResponder{s})
		h.ServeHTTP(w, r)
	}
}

type streamResponder struct{ s *Server }

func (sr streamResponder) Error(w http.ResponseWriter, r *http.Request, err error) {
	sr.s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("error dialing the node agent: %v", err)))
}

// Channel numbers of the channel.k8s.io protocols.
const (
	chanStdin = iota
	chanStdout
	chanStderr
	chanError
	chanResize
)

// translateRemoteCommand ends a channel.k8s.io WebSocket from the client and runs the command through SPDY
// remotecommand to the agent.
func (s *Server) translateRemoteCommand(w http.ResponseWriter, r *http.Request, target *url.URL, params url.Values, tty bool) {
	stdin, stdout, stderr := params.Get("input") != "", params.Get("output") != "", params.Get("error") != ""
	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{TLS: s.kubeletTLS(), PingPeriod: 5 * time.Second})
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	executor, err := remotecommand.NewSPDYExecutorForTransports(rt, rt, http.MethodPost, target)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	channels := make([]wsstream.ChannelType, 5)
	pick := func(on bool, t wsstream.ChannelType) wsstream.ChannelType {
		if on {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels[chanStdin] = pick(stdin, wsstream.ReadChannel)
	channels[chanStdout] = pick(stdout, wsstream.WriteChannel)
	channels[chanStderr] = pick(stderr, wsstream.WriteChannel)
	channels[chanError] = wsstream.WriteChannel
	channels[chanResize] = pick(tty, wsstream.ReadChannel)
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"v5.channel.k8s.io": {Binary: true, Channels: channels},
		"v4.channel.k8s.io": {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(streamIdleTimeout)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		slog.Debug("websocket open", "err", err)
		return
	}
	defer conn.Close()
	opts := remotecommand.StreamOptions{Tty: tty}
	if stdin {
		opts.Stdin = streams[chanStdin]
	}
	if stdout {
		opts.Stdout = streams[chanStdout]
	}
	if stderr {
		opts.Stderr = streams[chanStderr]
	}
	if tty {
		opts.TerminalSizeQueue = newSizeQueue(streams[chanResize])
	}
	err = executor.StreamWithContext(r.Context(), opts)
	_, _ = streams[chanError].Write(execStatus(err))
}

// execStatus is the metav1.Status the channel protocols end with: Success, or Failure with the exit code
// as upstream's NonZeroExitCode.
func execStatus(err error) []byte {
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	if err != nil {
		st.Status = metav1.StatusFailure
		st.Message = err.Error()
		var exitErr exec.ExitError
		if errors.As(err, &exitErr) && exitErr.Exited() {
			st.Reason = "NonZeroExitCode"
			st.Message = fmt.Sprintf("command terminated with non-zero exit code: %v", err)
			st.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(exitErr.ExitStatus())}}}
		} else {
			st.Reason = metav1.StatusReasonInternalError
			st.Code = http.StatusInternalServerError
		}
	}
	b, _ := json.Marshal(st)
	return b
}

// sizeQueue reads TerminalSize JSON objects from the resize channel.
type sizeQueue struct{ dec *json.Decoder }

func newSizeQueue(r io.Reader) *sizeQueue { return &sizeQueue{dec: json.NewDecoder(r)} }

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	var size remotecommand.TerminalSize
	if err := q.dec.Decode(&size); err != nil {
		return nil
	}
	return &size
}

// tunnelPortForward serves port-forward over a WebSocket that carries SPDY: it upgrades to the agent with
// SPDY first (so a failure is still an HTTP error the client can read), then accepts the WebSocket and copies
// bytes both ways.
func (s *Server) tunnelPortForward(w http.ResponseWriter, r *http.Request, target *url.URL) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, target.String(), nil)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set("X-Stream-Protocol-Version", "portforward.k8s.io")
	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{TLS: s.kubeletTLS()})
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	backend, err := rt.Dial(req)
	if err != nil {
		s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("error dialing the node agent: %v", err)))
		return
	}
	defer backend.Close()
	br := bufio.NewReader(backend)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("error reading the node agent's answer: %v", err)))
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		s.writeError(w, r, apierrors.NewBadRequest(strings.TrimSpace(string(msg))))
		return
	}
	var chosen string
	for _, p := range strings.Split(r.Header.Get(wsstream.WebSocketProtocolHeader), ",") {
		if p = strings.TrimSpace(p); strings.HasPrefix(p, "SPDY/3.1+portforward") {
			chosen = p
			break
		}
	}
	up := gwebsocket.Upgrader{Subprotocols: []string{chosen}, CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client.
	}
	client := portforward.NewTunnelingConnection("apiserver", ws)
	defer client.Close()
	var once sync.Once
	done := make(chan struct{})
	stop := func() { once.Do(func() { close(done) }) }
	go func() {
		_, _ = io.Copy(backend, client)
		stop()
	}()
	go func() {
		_, _ = io.Copy(client, br)
		stop()
	}()
	select {
	case <-done:
	case <-r.Context().Done():
	}
}

// admitConnect runs admission for a CONNECT (exec, attach, portforward), with the options as the object, as
// upstream does (webhooks registered for CONNECT on pods/exec see a PodExecOptions).
func (s *Server) admitConnect(ctx context.Context, ri *RequestInfo, res *resource, q url.Values) error {
	var opts runtime.Object
	var kind string
	switch ri.Subresource {
	case "exec":
		opts, kind = &corev1.PodExecOptions{Stdin: queryBool(q, "stdin"), Stdout: queryBool(q, "stdout"), Stderr: queryBool(q, "stderr"),
			TTY: queryBool(q, "tty"), Container: q.Get("container"), Command: q["command"]}, "PodExecOptions"
	case "attach":
		opts, kind = &corev1.PodAttachOptions{Stdin: queryBool(q, "stdin"), Stdout: queryBool(q, "stdout"), Stderr: queryBool(q, "stderr"),
			TTY: queryBool(q, "tty"), Container: q.Get("container")}, "PodAttachOptions"
	default:
		var ports []int32
		for _, p := range q["ports"] {
			for _, one := range strings.Split(p, ",") {
				n, _ := strconv.ParseUint(strings.TrimSpace(one), 10, 16)
				ports = append(ports, int32(n))
			}
		}
		opts, kind = &corev1.PodPortForwardOptions{Ports: ports}, "PodPortForwardOptions"
	}
	a := &admission.Attributes{Operation: admission.Connect, Resource: res.GroupVersionResource, Subresource: ri.Subresource,
		Kind: corev1.SchemeGroupVersion.WithKind(kind), Namespace: ri.Namespace, Name: ri.Name, Object: opts, User: auth.UserFrom(ctx)}
	if err := s.cfg.Admission.Admit(ctx, a); err != nil {
		return err
	}
	return s.cfg.Admission.Validate(ctx, a)
}
