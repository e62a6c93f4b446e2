package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/internal/apiserver/registry"
	"skiff/internal/storage"
)

// listParams are the query parameters of list and watch.
type listParams struct {
	label       labels.Selector
	field       fields.Selector
	rv          string
	rvMatch     metav1.ResourceVersionMatch
	limit       int64
	cont        string
	bookmarks   bool
	sendInitial *bool
	timeout     time.Duration
}

func parseListParams(r *http.Request, res *resource, watching bool) (*listParams, error) {
	q := r.URL.Query()
	p := &listParams{rv: q.Get("resourceVersion"), rvMatch: metav1.ResourceVersionMatch(q.Get("resourceVersionMatch")), cont: q.Get("continue")}
	var err error
	if p.label, err = labels.Parse(q.Get("labelSelector")); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	if p.field, err = fields.ParseSelector(q.Get("fieldSelector")); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	supported := registry.FieldSet(res.New())
	supported["metadata.namespace"] = "" // every namespaced object has one; the empty prototype does not
	for _, req := range p.field.Requirements() {
		if _, ok := supported[req.Field]; !ok {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
		}
	}
	if l := q.Get("limit"); l != "" {
		if p.limit, err = strconv.ParseInt(l, 10, 64); err != nil || p.limit < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", l))
		}
	}
	if _, err := storage.ParseRV(p.rv); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	switch p.rvMatch {
	case "", metav1.ResourceVersionMatchExact, metav1.ResourceVersionMatchNotOlderThan:
	default:
		return nil, invalidParam("resourceVersionMatch", string(p.rvMatch), "must be one of Exact, NotOlderThan")
	}
	if v := q.Get("sendInitialEvents"); v != "" {
		b := v == "true"
		p.sendInitial = &b
	}
	if watching {
		// A watch may name resourceVersionMatch only together with sendInitialEvents, and only NotOlderThan.
		if p.rvMatch != "" && (p.sendInitial == nil || p.rvMatch != metav1.ResourceVersionMatchNotOlderThan) {
			return nil, invalidParam("resourceVersionMatch", string(p.rvMatch), "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided, and then must be NotOlderThan")
		}
	} else if p.sendInitial != nil {
		return nil, invalidParam("sendInitialEvents", q.Get("sendInitialEvents"), "sendInitialEvents is forbidden for list")
	} else if p.rvMatch != "" && p.rv == "" {
		return nil, invalidParam("resourceVersionMatch", string(p.rvMatch), "resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if p.rvMatch == metav1.ResourceVersionMatchExact && p.rv == "0" {
		return nil, invalidParam("resourceVersionMatch", string(p.rvMatch), "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
	}
	if p.cont != "" && p.rv != "" && p.rv != "0" {
		return nil, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	p.bookmarks = q.Get("allowWatchBookmarks") == "true"
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", t))
		}
		p.timeout = time.Duration(n) * time.Second
	}
	return p, nil
}

func invalidParam(name, value, msg string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("%s: Invalid value: %q: %s", name, value, msg))
}

func (p *listParams) predicate() storage.Predicate {
	if p.label.Empty() && p.field.Empty() {
		return nil
	}
	return func(obj runtime.Object) bool {
		acc, err := meta.Accessor(obj)
		if err != nil {
			return false
		}
		if !p.label.Matches(labels.Set(acc.GetLabels())) {
			return false
		}
		return p.field.Empty() || p.field.Matches(registry.FieldSet(obj))
	}
}

// keyPrefix narrows a list or watch to a namespace, or to one object when the field selector names it.
func (res *resource) keyPrefix(ns string, p *listParams) string {
	if name, ok := p.field.RequiresExactMatch("metadata.name"); ok && (ns != "" || !res.Namespaced) {
		return res.store.Key(ns, name)
	}
	if ns == "" {
		return res.store.Resource().Prefix
	}
	return res.store.Key(ns, "")
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	out, err := negotiate(s.codecs, r, "Table", "PartialObjectMetadata")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	obj, err := s.getObject(r.Context(), res, ri.Namespace, ri.Name, r.URL.Query().Get("resourceVersion"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.objectFor(r, out, res, obj)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, out, resp)
}

// getObject reads one object: from etcd for a consistent read (resourceVersion unset), else from the cache.
func (s *Server) getObject(ctx context.Context, res *resource, ns, name, rv string) (runtime.Object, error) {
	key := res.store.Key(ns, name)
	if rv == "" {
		obj, err := res.store.Get(ctx, key, name)
		if err != nil {
			return nil, err
		}
		return res.out(obj)
	}
	minRV, err := storage.ParseRV(rv)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	items, _, err := res.cache.List(ctx, key, func(o runtime.Object) bool {
		acc, _ := meta.Accessor(o)
		return acc.GetName() == name
	}, minRV, false)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, apierrors.NewNotFound(res.GroupResource(), name)
	}
	return res.out(items[0])
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	out, err := negotiate(s.codecs, r, "Table", "PartialObjectMetadataList")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	p, err := parseListParams(r, res, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, lm, err := s.listObjects(r.Context(), res, ri.Namespace, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.listFor(r, out, res, items, lm)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, out, resp)
}

// listObjects serves a list from the watch cache, except paged and exact reads, which go to etcd at a revision.
func (s *Server) listObjects(ctx context.Context, res *resource, ns string, p *listParams) ([]runtime.Object, metav1.ListMeta, error) {
	rv, _ := storage.ParseRV(p.rv)
	pred := res.storedPred(p.predicate())
	prefix := res.keyPrefix(ns, p)
	fromEtcd := p.cont != "" || p.rvMatch == metav1.ResourceVersionMatchExact || (p.limit > 0 && p.rv != "0")
	if !fromEtcd {
		items, cur, err := res.cache.List(ctx, prefix, pred, rv, p.rv == "")
		if err != nil {
			return nil, metav1.ListMeta{}, err
		}
		items, err = res.outAll(items)
		return items, metav1.ListMeta{ResourceVersion: strconv.FormatInt(cur, 10)}, err
	}
	listPrefix := res.store.Resource().Prefix
	if ns != "" {
		listPrefix = res.store.Key(ns, "")
	}
	start := ""
	if p.cont != "" {
		crv, st, err := storage.DecodeContinue(p.cont)
		if err != nil {
			return nil, metav1.ListMeta{}, apierrors.NewBadRequest(err.Error())
		}
		rv, start = crv, st
	}
	if len(prefix) > len(listPrefix) && start == "" {
		start = prefix[len(listPrefix):]
	}
	page, err := res.store.ListPage(ctx, listPrefix, rv, start, p.limit, pred)
	if err != nil {
		return nil, metav1.ListMeta{}, err
	}
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(page.Revision, 10), Continue: page.Continue, RemainingItemCount: page.Remaining}
	items, err := res.outAll(page.Items)
	return items, lm, err
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	out, err := negotiate(s.codecs, r, "Table", "PartialObjectMetadata")
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	p, err := parseListParams(r, res, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ri.Name != "" {
		p.field = fields.AndSelectors(p.field, fields.OneTermEqualSelector("metadata.name", ri.Name))
	}
	rv, _ := storage.ParseRV(p.rv)
	opts := storage.WatchOptions{KeyPrefix: res.keyPrefix(ri.Namespace, p), Pred: res.storedPred(p.predicate()), RV: rv, Bookmarks: p.bookmarks}
	switch {
	case p.sendInitial != nil && *p.sendInitial:
		if p.rvMatch != metav1.ResourceVersionMatchNotOlderThan || !p.bookmarks {
			s.writeError(w, r, apierrors.NewBadRequest("sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true"))
			return
		}
		opts.SendInitial, opts.InitialEventsEnd, opts.Consistent = true, true, p.rv == ""
	case p.sendInitial != nil:
		// sendInitialEvents=false: changes only, after rv (or now).
		if p.rv == "" || p.rv == "0" {
			select {
			case <-res.cache.Ready():
			case <-r.Context().Done():
				return
			}
			opts.RV = res.cache.RV()
		}
	case p.rv == "" || p.rv == "0":
		// Legacy semantics: the current state as ADDED events, then the changes.
		opts.SendInitial, opts.Consistent, opts.RV = true, p.rv == "", 0
	}
	ctx := r.Context()
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	wi, err := res.cache.Watch(ctx, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer wi.Stop()
	s.streamWatch(ctx, w, r, out, res, wi)
}

// streamWatch writes watch events as upstream does: one metav1.WatchEvent frame per event, flushed at once.
func (s *Server) streamWatch(ctx context.Context, w http.ResponseWriter, r *http.Request, out output, res *resource, wi watch.Interface) {
	flusher, _ := w.(http.Flusher)
	framer := out.info.StreamSerializer
	if framer == nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	ct := out.contentType()
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	fw := framer.Framer.NewFrameWriter(w)
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			obj := ev.Object
			if ev.Type != watch.Error {
				var err error
				if obj, err = res.out(obj); err != nil {
					return
				}
			}
			switch {
			case ev.Type == watch.Error:
				// Error events carry a Status, which clients must see as it is to relist on 410.
			case out.as == "Table" && ev.Type != watch.Bookmark:
				t, err := toTable(r, res, []runtime.Object{obj}, first, s.metaNow)
				if err != nil {
					return
				}
				first = false
				obj = t
			case out.as == "PartialObjectMetadata":
				obj = partialObject(obj)
			}
			raw, err := encodeTo(out, obj)
			if err != nil {
				return
			}
			we := &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: raw}}
			if err := framer.Serializer.Encode(we, fw); err != nil {
				return
			}
			if flusher != nil && len(wi.ResultChan()) == 0 {
				flusher.Flush()
			}
		}
	}
}
