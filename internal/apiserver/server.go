package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes/scheme"

	"skiff/internal/admission"
	"skiff/internal/apiserver/audit"
	"skiff/internal/apiserver/conversion"
	"skiff/internal/apiserver/registry"
	"skiff/internal/auth"
	"skiff/internal/auth/serviceaccount"
	"skiff/internal/storage"
)

// Config is what the API server needs from its owner.
type Config struct {
	Etcd          *clientv3.Client
	Authenticator auth.Authenticator
	Authorizer    auth.Authorizer
	// Admission runs after defaulting (mutating) and after validation (validating).
	Admission admission.Chain
	Version   version.Info
	// PublicAddress is host:port clients should use, advertised in /api discovery.
	PublicAddress string
	// Now is the clock; tests inject one.
	Now func() time.Time
	// BookmarkInterval is how often watchers that allow bookmarks get one.
	BookmarkInterval time.Duration
	// MaxRequestBodyBytes bounds request bodies (upstream: 3 MiB).
	MaxRequestBodyBytes int64
	// KubeletClient reaches node agents (pod logs) with the API server's kubelet client certificate.
	KubeletClient *http.Client
	// ServiceRanges turns on ClusterIP and NodePort allocation for Services.
	ServiceRanges *ServiceRanges
	// Transformers, when set, gives each resource's values their encryption at rest.
	Transformers func(schema.GroupResource) storage.Transformer
	// Auditor writes the audit log (nil: none; responses still carry an Audit-ID).
	Auditor *audit.Auditor
	// Rules lists what a user may do in a namespace, for SelfSubjectRulesReview (nil: the review answers
	// incomplete with no rules).
	Rules func(u *auth.User, namespace string) ([]rbacv1.PolicyRule, error)
	// ServiceAccountTokens signs the tokens of serviceaccounts/<name>/token (nil: not served).
	ServiceAccountTokens *serviceaccount.Issuer
}

// Server is the Kubernetes API over one etcd.
type Server struct {
	cfg       Config
	scheme    *runtime.Scheme
	codecs    serializer.CodecFactory
	storeCdc  *storage.Codec
	resources map[schema.GroupVersionResource]*resource
	// byStorage shares one store and cache between versions of the same resource (none yet, but events.k8s.io
	// and autoscaling/v1 will).
	ordered []*resource
	extra   map[string]http.Handler
	ready   chan struct{}
	// bootstrapped is closed once the server has made the objects every cluster has (upstream's post-start
	// hooks); /readyz fails until then.
	bootstrapped     chan struct{}
	bootstrappedOnce sync.Once
	// svcAlloc allocates Service ClusterIPs and NodePorts (nil: Services keep what they ask for).
	svcAlloc *serviceAllocator
}

// resource is a served resource with its storage.
type resource struct {
	*registry.Resource
	store *storage.Store
	cache *storage.Cacher
	srv   *Server
	smd   *fieldManagers
	// conv converts to and from the storage version when the resource is stored as another version.
	conv *conversion.Pair
}

// out converts a stored object to the served version.
func (r *resource) out(obj runtime.Object) (runtime.Object, error) {
	if r.conv == nil || obj == nil {
		return obj, nil
	}
	out, err := r.conv.FromStorage(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return out, nil
}

// outAll converts a list of stored objects.
func (r *resource) outAll(objs []runtime.Object) ([]runtime.Object, error) {
	if r.conv == nil {
		return objs, nil
	}
	res := make([]runtime.Object, len(objs))
	for i, o := range objs {
		var err error
		if res[i], err = r.out(o); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// in converts a served object to the storage version; stored is the object it replaces (nil on create).
func (r *resource) in(obj, stored runtime.Object) (runtime.Object, error) {
	if r.conv == nil {
		return obj, nil
	}
	out, err := r.conv.ToStorage(obj, stored)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return out, nil
}

// storedPred applies a predicate written for the served version to stored objects.
func (r *resource) storedPred(p storage.Predicate) storage.Predicate {
	if r.conv == nil || p == nil {
		return p
	}
	return func(obj runtime.Object) bool {
		o, err := r.out(obj)
		return err == nil && p(o)
	}
}

// New builds the server over every resource in registry.All. Call Run to start its watch caches.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BookmarkInterval == 0 {
		cfg.BookmarkInterval = 10 * time.Second
	}
	if cfg.MaxRequestBodyBytes == 0 {
		cfg.MaxRequestBodyBytes = 3 << 20
	}
	s := &Server{
		cfg:       cfg,
		scheme:    scheme.Scheme,
		codecs:    serializer.NewCodecFactory(scheme.Scheme),
		storeCdc:  storage.NewCodec(scheme.Scheme),
		resources: map[schema.GroupVersionResource]*resource{},
		extra:     map[string]http.Handler{},
		ready:     make(chan struct{}),

		bootstrapped: make(chan struct{}),
	}
	if cfg.ServiceRanges != nil && cfg.ServiceRanges.CIDR != nil && cfg.Etcd != nil {
		s.svcAlloc = &serviceAllocator{s: s, ranges: *cfg.ServiceRanges, etcd: cfg.Etcd}
	}
	for _, rr := range registry.All {
		r := &resource{Resource: rr, srv: s}
		if rr.StoredAs != "" {
			if err := s.shareStorage(r); err != nil {
				return nil, err
			}
		} else if rr.Resource != "bindings" && !rr.Virtual {
			r.store = storage.NewStore(cfg.Etcd, s.storeCdc, storage.Resource{
				GroupResource: rr.GroupResource(),
				Prefix:        "/registry/" + storagePrefix(rr) + "/",
				StorageGVK:    rr.GVK(),
				NewFunc:       rr.New,
				Transformer:   s.transformerFor(rr.GroupResource()),
			})
			r.cache = storage.NewCacher(r.store, storage.CacherConfig{})
			fm, err := newFieldManagers(s.scheme, rr)
			if err != nil {
				return nil, fmt.Errorf("field manager for %s: %w", rr.GroupResource(), err)
			}
			r.smd = fm
		}
		s.resources[rr.GroupVersionResource] = r
		s.ordered = append(s.ordered, r)
	}
	return s, nil
}

func (s *Server) transformerFor(gr schema.GroupResource) storage.Transformer {
	if s.cfg.Transformers == nil {
		return nil
	}
	return s.cfg.Transformers(gr)
}

// shareStorage points a resource served in a second version at the store and cache of its storage version,
// with the conversion between the two.
func (s *Server) shareStorage(r *resource) error {
	gv, err := schema.ParseGroupVersion(r.StoredAs)
	if err != nil {
		return err
	}
	stored := s.resources[gv.WithResource(r.Resource.Resource)]
	if stored == nil {
		return fmt.Errorf("%s is stored as %s, which is not registered before it", r.GroupVersionResource, gv)
	}
	pair, err := conversion.For(r.GVK(), stored.GVK())
	if err != nil {
		return err
	}
	r.store, r.cache, r.conv = stored.store, stored.cache, &pair
	r.smd, err = newFieldManagers(s.scheme, r.Resource)
	return err
}

// storagePrefix keeps upstream's etcd layout: the group's resource name, with a few historical exceptions.
func storagePrefix(r *registry.Resource) string {
	switch r.Resource {
	case "services":
		return "services/specs"
	case "endpoints":
		return "services/endpoints"
	case "nodes":
		return "minions"
	}
	return r.Resource
}

// Handle registers an extra non-resource handler for a path prefix (openapi, metrics, ...).
func (s *Server) Handle(prefix string, h http.Handler) { s.extra[prefix] = h }

// Run starts the watch caches and blocks until ctx ends.
func (s *Server) Run(ctx context.Context) {
	for _, r := range s.ordered {
		// A resource served in a second version shares its storage version's cache: start each cache once.
		if r.cache != nil && r.conv == nil {
			go r.cache.Run(ctx)
			go r.cache.RunBookmarks(ctx, s.cfg.BookmarkInterval)
		}
	}
	go func() {
		for _, r := range s.ordered {
			if r.cache != nil {
				select {
				case <-r.cache.Ready():
				case <-ctx.Done():
					return
				}
			}
		}
		close(s.ready)
	}()
	<-ctx.Done()
}

// Ready is closed when every watch cache has loaded.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// SetBootstrapped marks the start-up writes done: /readyz passes from now on.
func (s *Server) SetBootstrapped() { s.bootstrappedOnce.Do(func() { close(s.bootstrapped) }) }

func (s *Server) lookup(ri *RequestInfo) *resource {
	return s.resources[schema.GroupVersionResource{Group: ri.APIGroup, Version: ri.APIVersion, Resource: ri.Resource}]
}

// Handler returns the whole HTTP handler chain.
func (s *Server) Handler() http.Handler {
	var h http.Handler = http.HandlerFunc(s.route)
	h = s.withWarnings(h)
	h = s.withAuthorization(h)
	h = s.withImpersonation(h)
	h = s.withRequestInfo(h)
	h = s.withAuthentication(h)
	h = s.withAudit(h)
	h = s.withRecovery(h)
	return h
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	ri := requestInfoFrom(r.Context())
	if ri.IsResourceRequest {
		s.serveResource(w, r, ri)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/healthz" || p == "/livez" || p == "/readyz" || strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/"):
		s.serveHealth(w, r)
	case p == "/version" || p == "/version/":
		writeRawJSON(w, http.StatusOK, s.cfg.Version)
	case p == "/api" || p == "/api/" || p == "/apis" || p == "/apis/" || ri.APIPrefix != "":
		s.serveDiscovery(w, r, ri)
	default:
		for prefix, h := range s.extra {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				h.ServeHTTP(w, r)
				return
			}
		}
		if p == "/" {
			s.serveRootPaths(w)
			return
		}
		s.writeError(w, r, notFoundPath(p))
	}
}

// cachedCopy returns the watch cache's copy of an object as a starting point for an update, or nil.
func (r *resource) cachedCopy(ctx context.Context, key string) runtime.Object {
	select {
	case <-r.cache.Ready():
	default:
		return nil
	}
	obj, _, err := r.cache.Get(ctx, key)
	if err != nil {
		return nil
	}
	return obj
}
