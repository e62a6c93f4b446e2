package openapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/munnerz/goautoneg"
)

const (
	v2Path  = "/openapi/v2"
	v3Path  = "/openapi/v3"
	v3Paths = v3Path + "/"

	// The two spellings of the v2 protobuf media type; kubectl asks for the
	// first, newer clients for the second. Both get the second back, as
	// upstream does.
	mtProtoV2Deprecated = "com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mtProtoV2           = "com.github.proto-openapi.spec.v2.v1.0+protobuf"
)

// Handler serves GET /openapi/v2, GET /openapi/v3 and
// GET /openapi/v3/{api/v1 | apis/<group>/<version>}. Every other path is a
// 404. Responses carry an ETag and honour If-None-Match; bodies are gzipped
// when the client accepts it.
func (s *Spec) Handler() http.Handler {
	s.handlerOnce.Do(s.initHandler)
	return s.handler
}

func (s *Spec) initHandler() {
	v2JSON := &served{doc: &document{body: s.v2JSON, etag: s.v2ETag}, contentType: mtJSON}
	// The protobuf form shares the JSON form's ETag (the Vary header keeps
	// caches apart), like upstream.
	v2Proto := &served{doc: &document{body: s.v2Proto, etag: s.v2ETag}, contentType: "application/" + mtProtoV2}
	index := &served{doc: s.v3Index, contentType: mtJSON}
	groups := make(map[string]*served, len(s.v3))
	for k, d := range s.v3 {
		groups[k] = &served{doc: d, contentType: mtJSON}
	}
	modified := time.Now()

	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch p := r.URL.Path; {
		case p == v2Path:
			w.Header().Add("Vary", "Accept")
			switch negotiate(r, "json", mtProtoV2Deprecated, mtProtoV2) {
			case "json":
				v2JSON.serve(w, r, modified)
			case "":
				http.Error(w, "not acceptable", http.StatusNotAcceptable)
			default:
				v2Proto.serve(w, r, modified)
			}
		case p == v3Path:
			index.serve(w, r, modified)
		case strings.HasPrefix(p, v3Paths):
			key := strings.TrimPrefix(p, v3Paths)
			g, ok := groups[key]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Add("Vary", "Accept")
			if negotiate(r, "json") == "" {
				http.Error(w, "not acceptable", http.StatusNotAcceptable)
				return
			}
			if hash := r.URL.Query().Get("hash"); hash != "" {
				if hash != g.doc.etag {
					// A stale link from an old index: send the client to
					// the current document.
					http.Redirect(w, r, v3Paths+key+"?hash="+g.doc.etag, http.StatusMovedPermanently)
					return
				}
				// The URL names the content: it can be cached forever.
				w.Header().Set("Cache-Control", "public, immutable")
				w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
			}
			g.serve(w, r, modified)
		default:
			http.NotFound(w, r)
		}
	})
}

// negotiate returns the first of the offered application/* subtypes the
// request's Accept header allows, in the client's order of preference, or
// "" if none. A missing Accept header accepts anything.
func negotiate(r *http.Request, offers ...string) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	for _, c := range goautoneg.ParseAccept(accept) {
		if c.Type != "application" && c.Type != "*" {
			continue
		}
		for _, o := range offers {
			if c.SubType == o || c.SubType == "*" {
				return o
			}
		}
	}
	return ""
}

// served is a document ready to be written, with a lazily compressed copy.
type served struct {
	doc         *document
	contentType string

	gzipOnce sync.Once
	gzipped  []byte
}

func (d *served) serve(w http.ResponseWriter, r *http.Request, modified time.Time) {
	h := w.Header()
	h.Set("Content-Type", d.contentType)
	h.Set("Etag", strconv.Quote(d.doc.etag))
	h.Add("Vary", "Accept-Encoding")
	body := d.doc.body
	if acceptsGzip(r) {
		d.gzipOnce.Do(func() { d.gzipped = compress(d.doc.body) })
		if d.gzipped != nil {
			h.Set("Content-Encoding", "gzip")
			body = d.gzipped
		}
	}
	// ServeContent answers If-None-Match with 304 and handles HEAD and
	// ranges.
	http.ServeContent(w, r, "", modified, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}

func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(b); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil {
		return nil
	}
	return buf.Bytes()
}
