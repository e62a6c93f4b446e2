package apiserver

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// output is the negotiated response format.
type output struct {
	info runtime.SerializerInfo
	// as is the transformation asked for with the ;as= media type parameter: "", Table, PartialObjectMetadata,
	// PartialObjectMetadataList or APIGroupDiscoveryList.
	as     string
	pretty bool
}

type acceptEntry struct {
	mediaType string
	params    map[string]string
}

func parseAccept(h string) []acceptEntry {
	if strings.TrimSpace(h) == "" {
		return []acceptEntry{{mediaType: "*/*"}}
	}
	var out []acceptEntry
	for _, part := range strings.Split(h, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok && (q == "0" || q == "0.0") {
			continue
		}
		out = append(out, acceptEntry{mediaType: mt, params: params})
	}
	return out
}

var errNotAcceptable = errors.New("not acceptable")

// negotiate picks the response serializer from the Accept header. allowAs says which ;as= transformations the
// endpoint can produce.
func negotiate(codecs serializer.CodecFactory, r *http.Request, allowAs ...string) (output, error) {
	pretty := r.URL.Query().Get("pretty") == "true" || isCurl(r)
	for _, e := range parseAccept(r.Header.Get("Accept")) {
		as := e.params["as"]
		if as != "" {
			ok := false
			for _, a := range allowAs {
				if a == as {
					ok = true
				}
			}
			group, version := e.params["g"], e.params["v"]
			wantGroup := "meta.k8s.io"
			if as == "APIGroupDiscoveryList" {
				wantGroup = "apidiscovery.k8s.io"
			}
			if !ok || group != wantGroup || (version != "v1" && version != "v2" && version != "v1beta1") {
				continue
			}
			if as == "APIGroupDiscoveryList" && version != "v2" {
				continue
			}
		}
		mt := e.mediaType
		if mt == "*/*" || mt == "application/*" {
			mt = runtime.ContentTypeJSON
		}
		for _, info := range codecs.SupportedMediaTypes() {
			if info.MediaType == mt {
				return output{info: info, as: as, pretty: pretty && info.PrettySerializer != nil}, nil
			}
		}
	}
	return output{}, errNotAcceptable
}

func isCurl(r *http.Request) bool {
	ua := r.Header.Get("User-Agent")
	return strings.HasPrefix(ua, "curl") || strings.HasPrefix(ua, "Wget")
}

func (o output) serializer() runtime.Serializer {
	if o.pretty {
		return o.info.PrettySerializer
	}
	return o.info.Serializer
}

func (o output) contentType() string {
	ct := o.info.MediaType
	switch o.as {
	case "":
	case "APIGroupDiscoveryList":
		ct += ";g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
	default:
		ct += ";as=" + o.as + ";g=meta.k8s.io;v=v1"
	}
	return ct
}

// writeObject encodes obj in the negotiated format. obj must have its apiVersion/kind set.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, out output, obj runtime.Object) {
	w.Header().Set("Content-Type", out.contentType())
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	if err := out.serializer().Encode(obj, w); err != nil {
		slog.Error("encode response", "path", r.URL.Path, "err", err)
	}
}

// writeJSON writes obj as JSON regardless of Accept; for objects that have no other form.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	out, err := negotiate(s.codecs, r)
	if err != nil || out.info.MediaType != runtime.ContentTypeJSON && out.info.MediaType != runtime.ContentTypeYAML && out.info.MediaType != runtime.ContentTypeProtobuf {
		out, _ = negotiate(s.codecs, &http.Request{URL: r.URL, Header: http.Header{}})
	}
	s.writeObject(w, r, code, out, obj)
}

// writeError sends err as a metav1.Status with the matching HTTP code.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := toStatus(err)
	if code := st.Code; code == http.StatusInternalServerError {
		slog.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	out, nerr := negotiate(s.codecs, r, "Table", "PartialObjectMetadata", "PartialObjectMetadataList")
	if nerr != nil {
		out, _ = negotiate(s.codecs, &http.Request{URL: r.URL, Header: http.Header{}})
	}
	out.as = ""
	s.writeObject(w, r, int(st.Code), out, st)
}

func toStatus(err error) *metav1.Status {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		s.Kind, s.APIVersion = "Status", "v1"
		if s.Status == "" {
			s.Status = metav1.StatusFailure
		}
		if s.Code == 0 {
			s.Code = http.StatusInternalServerError
		}
		return &s
	}
	s := apierrors.NewInternalError(err).Status()
	s.Kind, s.APIVersion = "Status", "v1"
	return &s
}

func notAcceptable(r *http.Request) error {
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, r.Method, schema.GroupResource{}, "",
		fmt.Sprintf("only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (got %q)", r.Header.Get("Accept")), 0, false)
}
