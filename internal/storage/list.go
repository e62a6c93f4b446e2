package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// Predicate decides whether an object belongs in a list or watch.
type Predicate func(obj runtime.Object) bool

// Everything matches every object.
func Everything(runtime.Object) bool { return true }

// ListResult is one page of a list.
type ListResult struct {
	Items []runtime.Object
	// Revision is the list's resourceVersion.
	Revision int64
	// Continue is the token for the next page, "" on the last page.
	Continue string
	// Remaining estimates the items after this page (only when there is a next page and no filter).
	Remaining *int64
}

// continueToken is the shape upstream uses, so tokens look familiar: base64 of this JSON.
type continueToken struct {
	APIVersion string `json:"v"`
	RV         int64  `json:"rv"`
	Start      string `json:"start"`
}

func encodeContinue(rv int64, startRel string) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", RV: rv, Start: startRel})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeContinue parses a continue token into its revision and the key (relative to the list prefix) to start at.
func DecodeContinue(token string) (rv int64, startRel string, err error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", errors.New("continue key is not valid")
	}
	var t continueToken
	if err := json.Unmarshal(data, &t); err != nil || t.APIVersion != "meta.k8s.io/v1" || t.RV <= 0 {
		return 0, "", errors.New("continue key is not valid")
	}
	if strings.Contains(t.Start, "..") || strings.HasPrefix(t.Start, "/") {
		return 0, "", errors.New("continue key is not valid")
	}
	return t.RV, t.Start, nil
}

// ListPage reads up to limit matching objects under prefix straight from etcd at revision rev (0: now), starting
// at startRel (relative to prefix). It keeps reading past non-matching objects until the page is full, as
// upstream does, so a selective filter still returns full pages.
func (s *Store) ListPage(ctx context.Context, prefix string, rev int64, startRel string, limit int64, pred Predicate) (*ListResult, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	key := prefix + startRel
	out := &ListResult{Revision: rev}
	batch := limit
	if batch <= 0 || batch > 1000 {
		batch = 1000
	}
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(batch)}
		if out.Revision > 0 {
			opts = append(opts, clientv3.WithRev(out.Revision))
		}
		resp, err := s.client.Get(ctx, key, opts...)
		if err != nil {
			if isCompacted(err) && startRel != "" {
				return nil, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
			}
			if isCompacted(err) {
				return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", rev))
			}
			return nil, storageError(err)
		}
		if out.Revision == 0 {
			out.Revision = resp.Header.Revision
		}
		for i, kv := range resp.Kvs {
			obj, _, _, err := s.decode(string(kv.Key), kv.Value, kv.ModRevision)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if pred != nil && !pred(obj) {
				continue
			}
			out.Items = append(out.Items, obj)
			if limit > 0 && int64(len(out.Items)) == limit {
				more := resp.More || i < len(resp.Kvs)-1
				if more {
					next := strings.TrimPrefix(string(kv.Key), prefix) + "\x00"
					out.Continue = encodeContinue(out.Revision, next)
					if pred == nil {
						n := resp.Count - int64(i) - 1
						out.Remaining = &n
					}
				}
				return out, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		// A selective filter leaves pages short: read more at a time, as upstream does.
		batch = min(batch*2, 10000)
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func isCompacted(err error) bool {
	return errors.Is(err, rpctypes.ErrCompacted) || (err != nil && strings.Contains(err.Error(), rpctypes.ErrCompacted.Error()))
}
