package audit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/auth"
)

// HeaderAuditID carries a request's audit ID in the response (and may be given in the request).
const HeaderAuditID = "Audit-ID"

// Annotation keys the authorizer's decision is logged under.
const (
	AnnotationDecision = "authorization.k8s.io/decision"
	AnnotationReason   = "authorization.k8s.io/reason"
)

// Config is what an Auditor needs.
type Config struct {
	Policy *Policy
	Log    LogConfig
	// Now is the clock; tests inject one.
	Now func() time.Time
	// ToJSON converts a body that is neither JSON nor YAML (Kubernetes protobuf) to JSON; nil: not logged.
	ToJSON func(body []byte) ([]byte, error)
	// MaxBodyBytes bounds the request and response bodies kept for an event (larger ones are not logged).
	MaxBodyBytes int
}

// Auditor evaluates the policy for each request and writes its events. A nil *Auditor only sets Audit-ID.
type Auditor struct {
	cfg      Config
	backend  *logBackend
	maxLevel Level
}

// New opens the log. Close it when the server stops.
func New(cfg Config) (*Auditor, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 3 << 20
	}
	b, err := newLogBackend(cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Auditor{cfg: cfg, backend: b, maxLevel: cfg.Policy.MaxLevel()}, nil
}

// Close closes the log file.
func (a *Auditor) Close() error {
	if a == nil {
		return nil
	}
	return a.backend.close()
}

// Filter audits every request through next. attrs returns a request's attributes (without the user) and
// whether it is long-running (watch, exec, ...: those get a ResponseStarted event). Place it outside
// authentication so refused requests (401, 403) are logged.
func (a *Auditor) Filter(next http.Handler, attrs func(*http.Request) (Attributes, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderAuditID)
		if !validID(id) {
			id = uuid.NewString()
		}
		w.Header().Set(HeaderAuditID, id)
		if a == nil {
			next.ServeHTTP(w, r)
			return
		}
		at, long := attrs(r)
		rec := &record{a: a, attrs: at, long: long}
		rec.ev = Event{TypeMeta: metav1.TypeMeta{Kind: "Event", APIVersion: "audit.k8s.io/v1"}, AuditID: id,
			RequestURI: r.URL.RequestURI(), Verb: at.Verb, SourceIPs: sourceIPs(r), UserAgent: r.UserAgent(),
			ObjectRef: objectRef(at), RequestReceivedTimestamp: metav1.NewMicroTime(a.cfg.Now())}
		if r.Body != nil && r.Body != http.NoBody && (!a.maxLevel.Less(LevelRequest) || (a.maxLevel != LevelNone && at.Verb == "create")) {
			rec.reqBody = &capture{limit: a.cfg.MaxBodyBytes}
			r.Body = &teeBody{ReadCloser: r.Body, c: rec.reqBody}
			rec.reqType = r.Header.Get("Content-Type")
		}
		rw := &responseWriter{ResponseWriter: w, rec: rec}
		defer func() {
			if p := recover(); p != nil {
				rec.finish(StagePanic, rw, &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
					Reason: metav1.StatusReasonInternalError, Message: fmt.Sprintf("APIServer panic'd: %v", p)})
				panic(p)
			}
		}()
		next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))
		rec.finish(StageResponseComplete, rw, nil)
	})
}

type recordKey struct{}

// record is one request's audit state.
type record struct {
	a     *Auditor
	attrs Attributes
	long  bool

	mu        sync.Mutex
	ev        Event
	d         Decision
	evaluated bool
	started   bool // ResponseStarted written (or omitted)
	reqBody   *capture
	reqType   string
}

func recordFrom(ctx context.Context) *record {
	rec, _ := ctx.Value(recordKey{}).(*record)
	return rec
}

// SetUser records the authenticated user, decides the request's level and writes RequestReceived. The
// authentication filter calls it.
func SetUser(ctx context.Context, u *auth.User) {
	rec := recordFrom(ctx)
	if rec == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.attrs.User = u
	rec.ev.User = userInfo(u)
	rec.evaluateLocked()
}

// LogImpersonatedUser records who the request acts as (the impersonation filter calls it).
func LogImpersonatedUser(ctx context.Context, u *auth.User) {
	if rec := recordFrom(ctx); rec != nil {
		rec.mu.Lock()
		ui := userInfo(u)
		rec.ev.ImpersonatedUser = &ui
		rec.mu.Unlock()
	}
}

// AddAnnotation adds key=value to the request's later events.
func AddAnnotation(ctx context.Context, key, value string) {
	if rec := recordFrom(ctx); rec != nil {
		rec.mu.Lock()
		if rec.ev.Annotations == nil {
			rec.ev.Annotations = map[string]string{}
		}
		rec.ev.Annotations[key] = value
		rec.mu.Unlock()
	}
}

// LogDecision records the authorizer's answer as upstream's annotations (the authorization filter calls it).
func LogDecision(ctx context.Context, allowed bool, reason string) {
	decision := "forbid"
	if allowed {
		decision = "allow"
	}
	AddAnnotation(ctx, AnnotationDecision, decision)
	AddAnnotation(ctx, AnnotationReason, reason)
}

func (rec *record) evaluateLocked() {
	if rec.evaluated {
		return
	}
	rec.evaluated = true
	rec.d = rec.a.cfg.Policy.Evaluate(rec.attrs)
	rec.ev.Level = rec.d.Level
	rec.emitLocked(StageRequestReceived, rec.a.cfg.Now())
}

// emitLocked writes the event at stage unless the level is None or the stage is omitted.
func (rec *record) emitLocked(stage Stage, at time.Time) {
	if rec.d.Level == LevelNone {
		return
	}
	for _, s := range rec.d.OmitStages {
		if s == stage {
			return
		}
	}
	ev := rec.ev
	ev.Stage = stage
	ev.StageTimestamp = metav1.NewMicroTime(at)
	if len(rec.ev.Annotations) > 0 {
		ev.Annotations = make(map[string]string, len(rec.ev.Annotations))
		for k, v := range rec.ev.Annotations {
			ev.Annotations[k] = v
		}
	}
	rec.a.backend.write(&ev)
}

// started is called at the response's first byte (or the connection's hijacking).
func (rec *record) responseStarted(code int) {
	if !rec.long {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.started {
		return
	}
	rec.started = true
	rec.evaluateLocked()
	rec.ev.ResponseStatus = &metav1.Status{Code: int32(code)}
	rec.emitLocked(StageResponseStarted, rec.a.cfg.Now())
}

func (rec *record) finish(stage Stage, rw *responseWriter, st *metav1.Status) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// A request that never authenticated is evaluated without a user.
	rec.evaluateLocked()
	if rec.d.Level == LevelNone {
		return
	}
	if st == nil {
		st = rw.status()
	}
	rec.ev.ResponseStatus = st
	if rec.reqBody != nil && !rec.reqBody.over {
		obj := toJSON(rec.reqType, rec.reqBody.buf, rec.a.cfg.ToJSON)
		if rec.ev.ObjectRef != nil && rec.ev.ObjectRef.Name == "" && rec.attrs.Verb == "create" {
			rec.ev.ObjectRef.Name = nameOf(obj)
		}
		if !rec.d.Level.Less(LevelRequest) {
			rec.ev.RequestObject = rec.d.strip(obj)
		}
	}
	if rec.d.Level == LevelRequestResponse && !rec.long && rw.body != nil && !rw.body.over {
		rec.ev.ResponseObject = rec.d.strip(toJSON(rw.Header().Get("Content-Type"), rw.body.buf, rec.a.cfg.ToJSON))
	}
	rec.emitLocked(stage, rec.a.cfg.Now())
}

func userInfo(u *auth.User) authnv1.UserInfo {
	if u == nil {
		return authnv1.UserInfo{}
	}
	ui := authnv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		ui.Extra = map[string]authnv1.ExtraValue{}
		for k, v := range u.Extra {
			ui.Extra[k] = v
		}
	}
	return ui
}

func objectRef(a Attributes) *ObjectReference {
	if !a.ResourceRequest {
		return nil
	}
	return &ObjectReference{Resource: a.Resource, Namespace: a.Namespace, Name: a.Name, APIGroup: a.APIGroup,
		APIVersion: a.APIVersion, Subresource: a.Subresource}
}

// sourceIPs lists X-Forwarded-For, X-Real-Ip, then the peer: where the request says it came from, as upstream.
func sourceIPs(r *http.Request) []string {
	var ips []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if net.ParseIP(s) == nil {
			return
		}
		for _, ip := range ips {
			if ip == s {
				return
			}
		}
		ips = append(ips, s)
	}
	for _, s := range strings.Split(r.Header.Get("X-Forwarded-For"), ",") {
		add(s)
	}
	add(r.Header.Get("X-Real-Ip"))
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		add(host)
	}
	return ips
}

// validID accepts a caller's audit ID when it is short and printable.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
