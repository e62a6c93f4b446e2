package apiserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

func init() {
	// Aggregated discovery documents are encoded with the same codecs as everything else.
	_ = apidiscoveryv2.AddToScheme(scheme.Scheme)
}

// subresourceVerbs lists what each subresource serves and what it answers with.
var subresourceVerbs = map[string][]string{
	"status":              {"get", "patch", "update"},
	"scale":               {"get", "patch", "update"},
	"binding":             {"create"},
	"eviction":            {"create"},
	"finalize":            {"update"},
	"approval":            {"get", "patch", "update"},
	"log":                 {"get"},
	"exec":                {"create", "get"},
	"attach":              {"create", "get"},
	"portforward":         {"create", "get"},
	"proxy":               {"create", "delete", "get", "patch", "update"},
	"token":               {"create"},
	"ephemeralcontainers": {"get", "patch", "update"},
	"resize":              {"get", "patch", "update"},
}

func subresourceKind(r *resource, sub string) schema.GroupVersionKind {
	switch sub {
	case "scale":
		return autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	case "binding":
		return schema.GroupVersionKind{Version: "v1", Kind: "Binding"}
	case "eviction":
		return schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}
	case "token":
		return schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}
	case "log", "exec", "attach", "portforward", "proxy":
		return schema.GroupVersionKind{Version: "v1", Kind: r.Kind + subresourceKindSuffix[sub]}
	}
	return r.GVK()
}

var subresourceKindSuffix = map[string]string{"log": "", "exec": "ExecOptions", "attach": "AttachOptions", "portforward": "PortForwardOptions", "proxy": "ProxyOptions"}

func (r *resource) subresources() []string {
	var subs []string
	if r.Status {
		subs = append(subs, "status")
	}
	if r.Scale {
		subs = append(subs, "scale")
	}
	subs = append(subs, r.Extra...)
	slices.Sort(subs)
	return subs
}

// groupVersions returns the served group/versions in discovery order: core first, then groups as registered.
func (s *Server) groupVersions() []schema.GroupVersion {
	var out []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for _, r := range s.ordered {
		gv := r.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	return out
}

func (s *Server) resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, r := range s.ordered {
		if r.GroupVersion() != gv {
			continue
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.Resource.Resource, SingularName: r.Singular, Namespaced: r.Namespaced, Kind: r.Kind,
			Verbs: r.SupportedVerbs(), ShortNames: r.ShortNames, Categories: r.Categories,
		})
		for _, sub := range r.subresources() {
			k := subresourceKind(r, sub)
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: r.Resource.Resource + "/" + sub, Namespaced: r.Namespaced, Kind: k.Kind, Group: k.Group, Version: k.Version,
				Verbs: subresourceVerbs[sub],
			})
		}
	}
	sort.SliceStable(list.APIResources, func(i, j int) bool { return list.APIResources[i].Name < list.APIResources[j].Name })
	return list
}

func (s *Server) aggregated(core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	out := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	groups := map[string]*apidiscoveryv2.APIGroupDiscovery{}
	for _, gv := range s.groupVersions() {
		if (gv.Group == "") != core {
			continue
		}
		g := groups[gv.Group]
		if g == nil {
			out.Items = append(out.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
			g = &out.Items[len(out.Items)-1]
			groups[gv.Group] = g
		}
		v := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, r := range s.ordered {
			if r.GroupVersion() != gv {
				continue
			}
			scope := apidiscoveryv2.ScopeCluster
			if r.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			gvk := r.GVK()
			rd := apidiscoveryv2.APIResourceDiscovery{
				Resource: r.Resource.Resource, SingularResource: r.Singular, Scope: scope, Verbs: r.SupportedVerbs(),
				ShortNames: r.ShortNames, Categories: r.Categories,
				ResponseKind: &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			}
			for _, sub := range r.subresources() {
				k := subresourceKind(r, sub)
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource: sub, Verbs: subresourceVerbs[sub],
					ResponseKind: &metav1.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind},
				})
			}
			v.Resources = append(v.Resources, rd)
		}
		sort.SliceStable(v.Resources, func(i, j int) bool { return v.Resources[i].Resource < v.Resources[j].Resource })
		g.Versions = append(g.Versions, v)
	}
	return out
}

func (s *Server) groupOf(name string) *metav1.APIGroup {
	var g *metav1.APIGroup
	for _, gv := range s.groupVersions() {
		if gv.Group != name {
			continue
		}
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		if g == nil {
			g = &metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: name, PreferredVersion: gvd}
		}
		g.Versions = append(g.Versions, gvd)
	}
	return g
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, ri *RequestInfo) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{}, r.Method))
		return
	}
	out, err := negotiate(s.codecs, r, "APIGroupDiscoveryList")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) == 1 && out.as == "APIGroupDiscoveryList":
		s.writeObject(w, r, http.StatusOK, out, s.aggregated(parts[0] == "api"))
	case len(parts) == 1 && parts[0] == "api":
		s.writeObject(w, r, http.StatusOK, out, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: s.cfg.PublicAddress}},
		})
	case len(parts) == 1:
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, gv := range s.groupVersions() {
			if gv.Group != "" && (len(list.Groups) == 0 || list.Groups[len(list.Groups)-1].Name != gv.Group) {
				list.Groups = append(list.Groups, *s.groupOf(gv.Group))
			}
		}
		s.writeObject(w, r, http.StatusOK, out, list)
	case len(parts) == 2 && parts[0] == "apis":
		if g := s.groupOf(parts[1]); g != nil {
			s.writeObject(w, r, http.StatusOK, out, g)
			return
		}
		s.writeError(w, r, notFoundPath(r.URL.Path))
	case (len(parts) == 2 && parts[0] == "api") || len(parts) == 3:
		gv := schema.GroupVersion{Group: ri.APIGroup, Version: ri.APIVersion}
		if !slices.Contains(s.groupVersions(), gv) {
			s.writeError(w, r, notFoundPath(r.URL.Path))
			return
		}
		out.as = ""
		s.writeObject(w, r, http.StatusOK, out, s.resourceList(gv))
	default:
		s.writeError(w, r, notFoundPath(r.URL.Path))
	}
}

func (s *Server) serveRootPaths(w http.ResponseWriter) {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2", "/openapi/v3"}
	for _, gv := range s.groupVersions() {
		if gv.Group != "" {
			paths = append(paths, "/apis/"+gv.Group, "/apis/"+gv.String())
		}
	}
	// The service account issuer's discovery documents, when served, are listed as upstream lists them.
	for _, p := range []string{"/.well-known/openid-configuration", "/openid/v1/jwks"} {
		if s.extra[p] != nil {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	writeRawJSON(w, http.StatusOK, map[string][]string{"paths": paths})
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	failed := ""
	select {
	case <-s.ready:
	default:
		if r.URL.Path != "/livez" && r.URL.Path != "/healthz/ping" && r.URL.Path != "/livez/ping" && r.URL.Path != "/readyz/ping" {
			failed = "[-]informer-sync failed: watch caches not loaded yet\n"
		}
	}
	bootstrap := ""
	if strings.HasPrefix(r.URL.Path, "/readyz") && r.URL.Path != "/readyz/ping" {
		bootstrap = "[+]poststarthook/skiff-bootstrap ok\n"
		select {
		case <-s.bootstrapped:
		default:
			bootstrap = "[-]poststarthook/skiff-bootstrap failed: not finished\n"
			failed += bootstrap
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed != "" {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(failed + "readyz check failed\n"))
		return
	}
	if r.URL.Query().Has("verbose") {
		_, _ = w.Write([]byte("[+]ping ok\n[+]etcd ok\n[+]informer-sync ok\n" + bootstrap + "readyz check passed\n"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func writeRawJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func notFoundPath(p string) error {
	err := apierrors.NewNotFound(schema.GroupResource{}, "")
	err.ErrStatus.Message = "the server could not find the requested resource"
	err.ErrStatus.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeUnexpectedServerResponse, Message: "404 page not found"}}}
	_ = p
	return err
}
