package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Authorizer decides whether a caller (from its verified client certificate) may make a request of the node
// agent's server.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (allowed bool, reason string, err error)
}

// Attributes are what upstream's kubelet asks about: verb on nodes/<subresource> named after this node.
type Attributes struct {
	User        string
	Groups      []string
	Verb        string
	Subresource string
	Node        string
}

// RequestAttributes maps a request as upstream's kubelet does: GET/HEAD get, POST create, PUT update, PATCH
// patch, DELETE delete; /stats stats, /metrics metrics, /logs log, /spec spec, anything else (exec, attach,
// port-forward, container logs, healthz) proxy.
func RequestAttributes(r *http.Request, user string, groups []string, node string) Attributes {
	verb := map[string]string{http.MethodGet: "get", http.MethodHead: "get", http.MethodPost: "create", http.MethodPut: "update",
		http.MethodPatch: "patch", http.MethodDelete: "delete"}[r.Method]
	if verb == "" {
		verb = strings.ToLower(r.Method)
	}
	sub := "proxy"
	for prefix, s := range map[string]string{"/stats": "stats", "/metrics": "metrics", "/logs": "log", "/spec": "spec"} {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			sub = s
		}
	}
	return Attributes{User: user, Groups: groups, Verb: verb, Subresource: sub, Node: node}
}

// SubjectAccessReviewer asks the API server (authorization.k8s.io/v1 SubjectAccessReview), caching answers as
// upstream's webhook authorizer does by default: allowed for 5 minutes, denied for 30 seconds.
type SubjectAccessReviewer struct {
	Client                kubernetes.Interface
	AllowedTTL, DeniedTTL time.Duration
	now                   func() time.Time
	mu                    sync.Mutex
	cache                 map[string]cachedDecision
}

type cachedDecision struct {
	allowed bool
	reason  string
	until   time.Time
}

// Authorize implements Authorizer.
func (s *SubjectAccessReviewer) Authorize(ctx context.Context, a Attributes) (bool, string, error) {
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s", a.User, strings.Join(a.Groups, ","), a.Verb, a.Subresource, a.Node)
	s.mu.Lock()
	if d, ok := s.cache[key]; ok && now().Before(d.until) {
		s.mu.Unlock()
		return d.allowed, d.reason, nil
	}
	s.mu.Unlock()
	sar, err := s.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: a.User, Groups: a.Groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: a.Verb, Resource: "nodes", Subresource: a.Subresource, Name: a.Node}},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("subject access review: %w", err)
	}
	ttl := s.AllowedTTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if !sar.Status.Allowed {
		if ttl = s.DeniedTTL; ttl == 0 {
			ttl = 30 * time.Second
		}
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]cachedDecision{}
	}
	if len(s.cache) > 10000 {
		s.cache = map[string]cachedDecision{}
	}
	s.cache[key] = cachedDecision{allowed: sar.Status.Allowed, reason: sar.Status.Reason, until: now().Add(ttl)}
	s.mu.Unlock()
	return sar.Status.Allowed, sar.Status.Reason, nil
}
