package node

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Kind names an object a node can reach through its pods.
type Kind string

// Kinds of objects in the graph.
const (
	Secret         Kind = "secret"
	ConfigMap      Kind = "configmap"
	PVC            Kind = "persistentvolumeclaim"
	PV             Kind = "persistentvolume"
	ServiceAccount Kind = "serviceaccount"
	// Pod is a pod bound to the node itself.
	Pod Kind = "pod"
)

// Graph answers whether a node is related to an object.
type Graph interface {
	// Related reports whether a pod bound to node refers to the object (namespace is empty for a PV, which a
	// node reaches through a claim bound to it).
	Related(node string, kind Kind, namespace, name string) bool
}

const (
	byRef    = "node-ref"
	byVolume = "volume"
)

func refKey(node string, kind Kind, ns, name string) string {
	return node + "/" + string(kind) + "/" + ns + "/" + name
}

// podRefKeys indexes a bound pod under every object it refers to.
func podRefKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil, nil
	}
	var keys []string
	for _, r := range PodRefs(pod) {
		keys = append(keys, refKey(pod.Spec.NodeName, r.Kind, pod.Namespace, r.Name))
	}
	return keys, nil
}

func claimVolumeKeys(obj any) ([]string, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok || pvc.Spec.VolumeName == "" {
		return nil, nil
	}
	return []string{pvc.Spec.VolumeName}, nil
}

// InformerGraph is the Graph over pod and claim informers.
type InformerGraph struct {
	pods, claims cache.Indexer
}

var _ Graph = (*InformerGraph)(nil)

// StartGraph starts pod and claim informers with client and returns the graph once they have synced (or an
// error when ctx ends first). The informers run until ctx ends.
func StartGraph(ctx context.Context, client kubernetes.Interface) (*InformerGraph, error) {
	f := informers.NewSharedInformerFactory(client, 0)
	pods := f.Core().V1().Pods().Informer()
	claims := f.Core().V1().PersistentVolumeClaims().Informer()
	if err := pods.AddIndexers(cache.Indexers{byRef: podRefKeys}); err != nil {
		return nil, err
	}
	if err := claims.AddIndexers(cache.Indexers{byVolume: claimVolumeKeys}); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced, claims.HasSynced) {
		return nil, fmt.Errorf("node authorizer: informers did not sync: %w", ctx.Err())
	}
	return &InformerGraph{pods: pods.GetIndexer(), claims: claims.GetIndexer()}, nil
}

// Related implements Graph.
func (g *InformerGraph) Related(node string, kind Kind, ns, name string) bool {
	if kind == Pod {
		o, ok, _ := g.pods.GetByKey(ns + "/" + name)
		return ok && o.(*corev1.Pod).Spec.NodeName == node
	}
	if kind == PV {
		claims, _ := g.claims.ByIndex(byVolume, name)
		for _, o := range claims {
			pvc := o.(*corev1.PersistentVolumeClaim)
			if g.Related(node, PVC, pvc.Namespace, pvc.Name) {
				return true
			}
		}
		return false
	}
	pods, _ := g.pods.ByIndex(byRef, refKey(node, kind, ns, name))
	return len(pods) > 0
}
