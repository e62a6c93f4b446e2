// Package server is the node agent's HTTPS endpoint (port 10250 by default), which the API server calls for
// what users ask of running containers: container logs (`kubectl logs`, with follow, previous, tailLines,
// sinceSeconds, timestamps), exec, attach and port-forward (stream.go). Only clients with a certificate from the cluster CA named
// kube-apiserver-kubelet-client are served.
package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	internalapi "k8s.io/cri-api/pkg/apis"
)

// APIServerClientName is the certificate CommonName the API server presents.
const APIServerClientName = "kube-apiserver-kubelet-client"

// Config configures the server.
type Config struct {
	Address string // host:port
	TLS     *tls.Config
	// PodLogDir is where pod logs live: <dir>/<ns>_<pod>_<uid>/<container>/<attempt>.log.
	PodLogDir string
	// Runtime is the CRI runtime that serves exec, attach and port-forward streams.
	Runtime Runtime
	// NodeName and Authorizer decide who may call (the caller is its verified client certificate: CN user,
	// O groups). Without an Authorizer only the API server's client (APIServerClientName) may.
	NodeName   string
	Authorizer Authorizer
}

// Runtime is the CRI runtime service.
type Runtime = internalapi.RuntimeService

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		serveLogs(w, r, cfg.PodLogDir)
	})
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) { serveExec(w, r, cfg.Runtime, false) })
		mux.HandleFunc(m+" /attach/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) { serveExec(w, r, cfg.Runtime, true) })
		mux.HandleFunc(m+" /portForward/{ns}/{pod}", func(w http.ResponseWriter, r *http.Request) { servePortForward(w, r, cfg.Runtime) })
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.VerifiedChains[0][0].Subject.CommonName == "" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		cert := r.TLS.VerifiedChains[0][0]
		if cfg.Authorizer == nil {
			if cert.Subject.CommonName != APIServerClientName {
				http.Error(w, "Forbidden", http.StatusForbidden)
				return
			}
		} else {
			a := RequestAttributes(r, cert.Subject.CommonName, cert.Subject.Organization, cfg.NodeName)
			allowed, reason, err := cfg.Authorizer.Authorize(r.Context(), a)
			if err != nil {
				http.Error(w, "Authorization error: "+err.Error(), http.StatusInternalServerError)
				return
			}
			if !allowed {
				// Upstream's wording.
				msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", a.User, a.Verb, a.Subresource)
				if reason != "" {
					msg += ": " + reason
				}
				http.Error(w, msg, http.StatusForbidden)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("kubelet server: %w", err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg.TLS, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// logFiles returns the container's log files, oldest attempt first.
func logFiles(dir, ns, pod, container string) []string {
	dirs, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("%s_%s_*", ns, pod), container))
	if len(dirs) == 0 {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dirs[0], "*.log"))
	sort.Slice(files, func(i, j int) bool { return attemptOf(files[i]) < attemptOf(files[j]) })
	return files
}

func attemptOf(path string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(path), ".log"))
	return n
}

// logLine is one parsed CRI log line: "<RFC3339Nano> <stream> <F|P> <message>".
type logLine struct {
	ts      time.Time
	msg     string
	partial bool
}

func parse(line string) (logLine, bool) {
	parts := strings.SplitN(line, " ", 4)
	if len(parts) < 4 {
		return logLine{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return logLine{}, false
	}
	return logLine{ts: ts, msg: parts[3], partial: parts[2] == "P"}, true
}

func serveLogs(w http.ResponseWriter, r *http.Request, dir string) {
	q := r.URL.Query()
	files := logFiles(dir, r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"))
	if len(files) == 0 {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: no logs yet", r.PathValue("container"), r.PathValue("pod")), http.StatusBadRequest)
		return
	}
	file := files[len(files)-1]
	if q.Get("previous") == "true" {
		if len(files) < 2 {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", r.PathValue("container"), r.PathValue("pod")), http.StatusBadRequest)
			return
		}
		file = files[len(files)-2]
	}
	tail := -1
	if v := q.Get("tailLines"); v != "" {
		tail, _ = strconv.Atoi(v)
	}
	var since time.Time
	if v := q.Get("sinceSeconds"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			since = time.Now().Add(-time.Duration(n) * time.Second)
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		since, _ = time.Parse(time.RFC3339, v)
	}
	timestamps := q.Get("timestamps") == "true"
	f, err := os.Open(file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	write := func(l logLine) {
		if !since.IsZero() && l.ts.Before(since) {
			return
		}
		if timestamps {
			_, _ = io.WriteString(w, l.ts.Format(time.RFC3339Nano)+" ")
		}
		_, _ = io.WriteString(w, l.msg)
		if !l.partial {
			_, _ = io.WriteString(w, "\n")
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	rd := bufio.NewReader(f)
	var lines []logLine
	for {
		line, err := rd.ReadString('\n')
		if l, ok := parse(strings.TrimSuffix(line, "\n")); ok && strings.HasSuffix(line, "\n") {
			lines = append(lines, l)
		}
		if err != nil {
			break
		}
	}
	if tail >= 0 && tail < len(lines) {
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		write(l)
	}
	if q.Get("follow") != "true" {
		return
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	partial := ""
	gone := false
	for {
		line, err := rd.ReadString('\n')
		partial += line
		if err == nil {
			if l, ok := parse(strings.TrimSuffix(partial, "\n")); ok {
				write(l)
				if flusher != nil {
					flusher.Flush()
				}
			}
			partial = ""
			continue
		}
		if gone {
			// The file was removed and everything written before that has now been read.
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		if _, serr := os.Stat(file); serr != nil {
			// Read what was written before the removal (the open file still has it), then stop.
			slog.Debug("log file gone", "file", file)
			gone = true
		}
	}
}
