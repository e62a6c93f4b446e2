package apiserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// podLogs serves pods/<name>/log by proxying to the node agent that runs the pod, as upstream: the agent's
// address and port come from the Node object, and the API server authenticates with its kubelet client
// certificate.
func (s *Server) podLogs(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	obj, err := s.getObject(r.Context(), res, ri.Namespace, ri.Name, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pod := obj.(*corev1.Pod)
	q := r.URL.Query()
	container := q.Get("container")
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			names := make([]string, 0, len(pod.Spec.Containers))
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " "))))
			return
		}
		container = pod.Spec.Containers[0].Name
	}
	known := false
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			known = known || c.Name == container
		}
	}
	if !known {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod.Name)))
		return
	}
	if pod.Spec.NodeName == "" {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	if s.cfg.KubeletClient == nil {
		s.writeError(w, r, apierrors.NewServiceUnavailable("no client for node agents is configured"))
		return
	}
	nodeRes := s.resources[corev1.SchemeGroupVersion.WithResource("nodes")]
	nobj, err := s.getObject(r.Context(), nodeRes, "", pod.Spec.NodeName, "")
	if err != nil {
		s.writeError(w, r, err)
		return
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
		s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has no address or kubelet port", node.Name)))
		return
	}
	target := url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port))),
		Path: fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container)}
	params := url.Values{}
	for _, k := range []string{"follow", "previous", "tailLines", "sinceSeconds", "sinceTime", "timestamps", "limitBytes"} {
		if v := q.Get(k); v != "" {
			params.Set(k, v)
		}
	}
	target.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target.String(), nil)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	resp, err := s.cfg.KubeletClient.Do(req)
	if err != nil {
		s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("Get %q: %v", target.String(), err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		s.writeError(w, r, apierrors.NewBadRequest(strings.TrimSpace(string(msg))))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32*1024)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}
