package audit

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// capture keeps up to limit bytes of a body; over marks a body that was larger (it is then not logged).
type capture struct {
	buf   []byte
	limit int
	over  bool
}

func (c *capture) add(p []byte) {
	if c.over {
		return
	}
	if len(c.buf)+len(p) > c.limit {
		c.over, c.buf = true, nil
		return
	}
	c.buf = append(c.buf, p...)
}

// teeBody copies what the handler reads of the request body.
type teeBody struct {
	io.ReadCloser
	c *capture
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.c.add(p[:n])
	return n, err
}

// responseWriter records the status code and, when an event may need it, the body.
type responseWriter struct {
	http.ResponseWriter
	rec     *record
	code    int
	body    *capture
	started bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.started {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.started, w.code = true, code
	w.rec.mu.Lock()
	level, evaluated := w.rec.d.Level, w.rec.evaluated
	w.rec.mu.Unlock()
	// Errors are kept for responseStatus's message; whole responses only at RequestResponse.
	switch {
	case w.rec.long:
	case code >= 400:
		w.body = &capture{limit: 64 << 10}
	case evaluated && level == LevelRequestResponse:
		w.body = &capture{limit: w.rec.a.cfg.MaxBodyBytes}
	}
	w.ResponseWriter.WriteHeader(code)
	w.rec.responseStarted(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if w.body != nil {
		w.body.add(p)
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes flushes through (watch streams need them).
func (w *responseWriter) Flush() {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack passes connection upgrades through (exec, attach, port-forward); the response has then started.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.started {
		w.started, w.code = true, http.StatusSwitchingProtocols
		w.rec.responseStarted(w.code)
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the response's responseStatus: the code, and for an error the Status the server sent.
func (w *responseWriter) status() *metav1.Status {
	code := w.code
	if !w.started {
		code = http.StatusOK
	}
	st := &metav1.Status{Code: int32(code)}
	if code >= 400 && w.body != nil && !w.body.over {
		var sent metav1.Status
		if err := json.Unmarshal(toJSON(w.Header().Get("Content-Type"), w.body.buf, w.rec.a.cfg.ToJSON), &sent); err == nil && sent.Kind == "Status" {
			sent.TypeMeta, sent.ListMeta = metav1.TypeMeta{}, metav1.ListMeta{}
			sent.Code = int32(code)
			return &sent
		}
	}
	return st
}

// toJSON returns a body as JSON: JSON as is, YAML (apply patches) converted, anything else through conv.
func toJSON(contentType string, body []byte, conv func([]byte) ([]byte, error)) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	ct := strings.ToLower(contentType)
	switch {
	case strings.Contains(ct, "json") || ct == "":
		if json.Valid(body) {
			return body
		}
	case strings.Contains(ct, "yaml"):
		if j, err := yaml.YAMLToJSON(body); err == nil {
			return j
		}
	case conv != nil:
		if j, err := conv(body); err == nil && json.Valid(j) {
			return j
		}
	}
	return nil
}

// nameOf reads metadata.name of a JSON object (the name of a created object, which the path lacks).
func nameOf(obj json.RawMessage) string {
	var o struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if obj == nil || json.Unmarshal(obj, &o) != nil {
		return ""
	}
	return o.Metadata.Name
}

// strip removes metadata.managedFields (of the object, or of each item of a list) when the policy says so.
func (d Decision) strip(obj json.RawMessage) json.RawMessage {
	if !d.OmitManagedFields || obj == nil || !strings.Contains(string(obj), `"managedFields"`) {
		return obj
	}
	var m map[string]any
	if json.Unmarshal(obj, &m) != nil {
		return obj
	}
	dropMF := func(o any) {
		if om, ok := o.(map[string]any); ok {
			if md, ok := om["metadata"].(map[string]any); ok {
				delete(md, "managedFields")
			}
		}
	}
	dropMF(m)
	if items, ok := m["items"].([]any); ok {
		for _, it := range items {
			dropMF(it)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return obj
	}
	return out
}
