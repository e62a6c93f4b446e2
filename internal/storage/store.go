package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource says where and how one resource is stored.
type Resource struct {
	GroupResource schema.GroupResource
	// Prefix is the etcd key prefix with a trailing slash, e.g. "/registry/pods/".
	Prefix string
	// StorageGVK is the apiVersion/kind written into stored values.
	StorageGVK schema.GroupVersionKind
	NewFunc    func() runtime.Object
	// Transformer encrypts values at rest (nil: stored as encoded).
	Transformer Transformer
}

// Store reads and writes one resource's objects in etcd.
type Store struct {
	client *clientv3.Client
	codec  *Codec
	res    Resource
}

// NewStore returns a Store for res.
func NewStore(client *clientv3.Client, codec *Codec, res Resource) *Store {
	return &Store{client: client, codec: codec, res: res}
}

// Resource returns what the store was made for.
func (s *Store) Resource() Resource { return s.res }

// Key returns the etcd key of an object; namespace is "" for cluster-scoped resources.
func (s *Store) Key(namespace, name string) string {
	if namespace == "" {
		return s.res.Prefix + name
	}
	return s.res.Prefix + namespace + "/" + name
}

// Create stores obj under key unless the key exists, and returns it with its resourceVersion set.
func (s *Store) Create(ctx context.Context, key, name string, obj runtime.Object) (runtime.Object, error) {
	_, data, err := s.encode(key, obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(data))).
		Commit()
	if err != nil {
		return nil, storageError(err)
	}
	if !resp.Succeeded {
		return nil, apierrors.NewAlreadyExists(s.res.GroupResource, name)
	}
	out := obj.DeepCopyObject()
	if err := SetRV(out, resp.Header.Revision); err != nil {
		return nil, err
	}
	return out, nil
}

// Get reads the object at key from etcd (a consistent read).
func (s *Store) Get(ctx context.Context, key, name string) (runtime.Object, error) {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return nil, storageError(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, apierrors.NewNotFound(s.res.GroupResource, name)
	}
	obj, _, _, err := s.decode(key, resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return obj, nil
}

// UpdateFunc computes the next state from the current one. Returning del=true deletes the object instead.
// Returning a nil object (and del=false) writes nothing and GuaranteedUpdate returns the current object, as does
// an object equal byte for byte, once encoded, to the stored one.
type UpdateFunc func(cur runtime.Object) (next runtime.Object, del bool, err error)

// GuaranteedUpdate applies fn to the current object until the write wins over concurrent writers. It returns the
// stored result, or for a deletion the deleted object with the deletion's revision as resourceVersion.
//
// cached, when not nil, is the watch cache's copy of the object: the first attempt starts from it instead of
// reading etcd, and the compare-and-swap on its revision catches a stale copy (the retry then uses the value
// etcd returned). It is not modified.
func (s *Store) GuaranteedUpdate(ctx context.Context, key, name string, fn UpdateFunc, cached runtime.Object) (runtime.Object, bool, error) {
	var cur runtime.Object
	var curRev int64
	var curData []byte // the encoded (plaintext) bytes, when known
	var curStale bool  // the stored value is not encrypted as writes are now
	fromCache := false
	if cached != nil {
		acc, err := meta.Accessor(cached)
		if err == nil {
			curRev, _ = ParseRV(acc.GetResourceVersion())
		}
		if curRev > 0 {
			cur, fromCache = cached, true
		}
	}
	if cur == nil {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return nil, false, storageError(err)
		}
		if cur, curRev, curData, curStale, err = s.decodeKV(resp.Kvs, name); err != nil {
			return nil, false, err
		}
	}
	for {
		next, del, err := fn(cur.DeepCopyObject())
		if err != nil {
			return nil, false, err
		}
		if next == nil && !del {
			return cur.DeepCopyObject(), false, nil
		}
		var op clientv3.Op
		if del {
			op = clientv3.OpDelete(key)
		} else {
			plain, data, err := s.encode(key, next)
			if err != nil {
				return nil, false, apierrors.NewInternalError(err)
			}
			if curData == nil {
				// Started from the cache: encode a copy of it to see whether anything changed.
				if curData, err = s.codec.Encode(cur.DeepCopyObject(), s.res.StorageGVK); err != nil {
					return nil, false, apierrors.NewInternalError(err)
				}
			}
			if bytes.Equal(plain, curData) {
				if fromCache && s.mayBeStale() {
					// The cache does not know how its copy is stored: ask etcd, so that rewriting an
					// unchanged object re-encrypts it with the current key (key rotation).
					fromCache = false
					resp, err := s.client.Get(ctx, key)
					if err != nil {
						return nil, false, storageError(err)
					}
					if cur, curRev, curData, curStale, err = s.decodeKV(resp.Kvs, name); err != nil {
						return nil, false, err
					}
					continue
				}
				if !curStale {
					return cur.DeepCopyObject(), false, nil
				}
			}
			op = clientv3.OpPut(key, string(data))
		}
		tresp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", curRev)).
			Then(op).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return nil, false, storageError(err)
		}
		if !tresp.Succeeded {
			kvs := tresp.Responses[0].GetResponseRange().Kvs
			if cur, curRev, curData, curStale, err = s.decodeKV(kvs, name); err != nil {
				return nil, false, err
			}
			fromCache = false
			continue
		}
		out := next
		if del {
			out = cur.DeepCopyObject()
		}
		if err := SetRV(out, tresp.Header.Revision); err != nil {
			return nil, false, err
		}
		return out, del, nil
	}
}

func (s *Store) decodeKV(kvs []*mvccpb.KeyValue, name string) (runtime.Object, int64, []byte, bool, error) {
	if len(kvs) == 0 {
		return nil, 0, nil, false, apierrors.NewNotFound(s.res.GroupResource, name)
	}
	kv := kvs[0]
	obj, plain, stale, err := s.decode(string(kv.Key), kv.Value, kv.ModRevision)
	if err != nil {
		return nil, 0, nil, false, apierrors.NewInternalError(err)
	}
	return obj, kv.ModRevision, plain, stale, nil
}

func (s *Store) transformer() Transformer {
	if s.res.Transformer == nil {
		return Identity{}
	}
	return s.res.Transformer
}

// mayBeStale says whether stored values can need a rewrite to reach the current encryption.
func (s *Store) mayBeStale() bool {
	if t, ok := s.transformer().(interface{ MayBeStale() bool }); ok {
		return t.MayBeStale()
	}
	_, identity := s.transformer().(Identity)
	return !identity
}

// encode returns obj's encoded bytes and the value to store under key.
func (s *Store) encode(key string, obj runtime.Object) (plain, stored []byte, err error) {
	if plain, err = s.codec.Encode(obj, s.res.StorageGVK); err != nil {
		return nil, nil, err
	}
	if stored, err = s.transformer().ToStorage(plain, key); err != nil {
		return nil, nil, fmt.Errorf("encrypt %s: %w", key, err)
	}
	return plain, stored, nil
}

// decode reads the value stored under key at revision rev.
func (s *Store) decode(key string, value []byte, rev int64) (obj runtime.Object, plain []byte, stale bool, err error) {
	if plain, stale, err = s.transformer().FromStorage(value, key); err != nil {
		return nil, nil, false, fmt.Errorf("decrypt %s: %w", key, err)
	}
	obj, err = s.codec.Decode(plain, rev, s.res.NewFunc)
	return obj, plain, stale, err
}

// CurrentRevision returns etcd's current revision, which is what a consistent read must at least reflect.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, s.res.Prefix, clientv3.WithCountOnly(), clientv3.WithPrefix(), clientv3.WithLimit(1))
	if err != nil {
		return 0, storageError(err)
	}
	return resp.Header.Revision, nil
}

// ErrCompacted marks reads of revisions etcd has already compacted away.
var ErrCompacted = errors.New("required revision has been compacted")

func storageError(err error) error {
	if isCompacted(err) {
		return apierrors.NewResourceExpired(fmt.Sprintf("The resourceVersion for the provided list is too old: %v", ErrCompacted))
	}
	if errors.Is(err, rpctypes.ErrRequestTooLarge) || strings.Contains(err.Error(), rpctypes.ErrRequestTooLarge.Error()) {
		return apierrors.NewRequestEntityTooLargeError("the object is larger than etcd accepts")
	}
	if errors.Is(err, rpctypes.ErrFutureRev) || strings.Contains(err.Error(), rpctypes.ErrFutureRev.Error()) {
		return tooLargeRV()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewTimeoutError(err.Error(), 1)
	}
	return apierrors.NewInternalError(fmt.Errorf("etcd: %w", err))
}

// tooLargeRV is upstream's answer to a resourceVersion newer than storage has: 504 with a
// ResourceVersionTooLarge cause, which clients treat as "retry later".
func tooLargeRV() *apierrors.StatusError {
	err := apierrors.NewTimeoutError("Too large resource version", 1)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"})
	return err
}

// ctxError turns a canceled or timed-out request into upstream's timeout error instead of a 500.
func ctxError(ctx context.Context, what string) error {
	return apierrors.NewTimeoutError(fmt.Sprintf("%s: %v", what, ctx.Err()), 1)
}
