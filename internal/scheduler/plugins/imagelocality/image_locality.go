// Package imagelocality implements the ImageLocality plugin: nodes that already hold the pod's images score
// higher, by image size scaled by how widely each image has spread across the cluster, as upstream.
package imagelocality

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/scheduler/framework"
)

// Name is the plugin's name in profiles and in statuses.
const Name = "ImageLocality"

// The summed image score is clamped to [minThreshold, maxContainerThreshold × number of images] before being
// mapped onto 0..MaxNodeScore: the range of typical compressed image sizes, as upstream.
const (
	mb                    int64 = 1024 * 1024
	minThreshold          int64 = 23 * mb
	maxContainerThreshold int64 = 1000 * mb
)

const preScoreStateKey framework.StateKey = "PreScore" + Name

// ImageLocality is the plugin.
type ImageLocality struct {
	handle framework.Handle
}

var (
	_ framework.PreScorePlugin    = &ImageLocality{}
	_ framework.ScorePlugin       = &ImageLocality{}
	_ framework.EnqueueExtensions = &ImageLocality{}
	_ framework.Factory           = New
)

// New builds the plugin. It takes no arguments; like upstream it ignores any it is given. The handle's
// snapshot gives the cluster size for the spread factor.
func New(_ runtime.Object, h framework.Handle) (framework.Plugin, error) {
	return &ImageLocality{handle: h}, nil
}

// Name implements framework.Plugin.
func (pl *ImageLocality) Name() string { return Name }

// EventsToRegister returns nothing: a score plugin never rejects a pod.
func (pl *ImageLocality) EventsToRegister() []framework.ClusterEvent { return nil }

// preScoreState holds what is the same for every node: the pod's normalized image names and the number of
// nodes in the snapshot.
type preScoreState struct {
	images        []string
	totalNumNodes int
}

// Clone shares the state: it never changes after PreScore.
func (s *preScoreState) Clone() framework.StateData { return s }

// PreScore normalizes the pod's image names and counts the cluster's nodes once for all nodes.
func (pl *ImageLocality) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	state.Write(preScoreStateKey, pl.computeState(pod))
	return nil
}

func (pl *ImageLocality) computeState(pod *corev1.Pod) *preScoreState {
	s := &preScoreState{totalNumNodes: pl.totalNumNodes()}
	for i := range pod.Spec.InitContainers {
		s.images = append(s.images, normalizedImageName(pod.Spec.InitContainers[i].Image))
	}
	for i := range pod.Spec.Containers {
		s.images = append(s.images, normalizedImageName(pod.Spec.Containers[i].Image))
	}
	// Image volumes are pulled to the node like container images, and upstream counts them the same way.
	for i := range pod.Spec.Volumes {
		if img := pod.Spec.Volumes[i].Image; img != nil && img.Reference != "" {
			s.images = append(s.images, normalizedImageName(img.Reference))
		}
	}
	return s
}

func (pl *ImageLocality) totalNumNodes() int {
	if pl.handle == nil {
		return 1
	}
	lister := pl.handle.SnapshotSharedLister()
	if lister == nil {
		return 1
	}
	return max(1, len(lister.NodeInfos().List()))
}

// Score sums, over the pod's images present on the node, the image size scaled by the fraction of nodes
// holding it, and maps the sum onto 0..MaxNodeScore.
func (pl *ImageLocality) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	var s *preScoreState
	if c, err := state.Read(preScoreStateKey); err == nil {
		s, _ = c.(*preScoreState)
	}
	if s == nil {
		s = pl.computeState(pod)
	}
	var sum int64
	for _, name := range s.images {
		if size, numNodes, ok := imageOnNode(nodeInfo, name); ok {
			sum += scaledImageScore(size, numNodes, s.totalNumNodes)
		}
	}
	return calculatePriority(sum, len(s.images)), nil
}

// ScoreExtensions implements framework.ScorePlugin: scores are already in 0..MaxNodeScore.
func (pl *ImageLocality) ScoreExtensions() framework.ScoreExtensions { return nil }

// imageOnNode returns the size of the named image on the node and how many nodes have it.
//
// The scheduler cache may fill NodeInfo.ImageStates, with the number of nodes holding each image; its entry
// is used when present. Otherwise the image is looked up in the node's status.images, and since counting
// the nodes holding it would mean scanning every node's images for every pod, it is assumed to be on this
// node only (spread 1/total nodes). That underrates widely spread images until the cache provides counts,
// but keeps the preference for nodes that have the image and the mitigation of the "node heating" problem
// (pods piling onto the one node that has a large image).
func imageOnNode(ni *framework.NodeInfo, name string) (size int64, numNodes int, ok bool) {
	if st, found := ni.ImageStates[name]; found {
		return st.Size, max(1, st.NumNodes), true
	}
	if ni.Node == nil {
		return 0, 0, false
	}
	for i := range ni.Node.Status.Images {
		img := &ni.Node.Status.Images[i]
		for _, n := range img.Names {
			if n == name {
				return img.SizeBytes, 1, true
			}
		}
	}
	return 0, 0, false
}

// scaledImageScore is the image size times the fraction of nodes holding the image: the more an image has
// spread, the less having it sets a node apart, and a large image on a single node does not attract every
// pod using it.
func scaledImageScore(size int64, numNodes, totalNumNodes int) int64 {
	spread := float64(numNodes) / float64(totalNumNodes)
	return int64(float64(size) * spread)
}

// calculatePriority maps the summed image score, clamped to [minThreshold, maxContainerThreshold×numImages],
// linearly onto 0..MaxNodeScore.
func calculatePriority(sumScores int64, numImages int) int64 {
	maxThreshold := maxContainerThreshold * int64(numImages)
	if sumScores < minThreshold {
		sumScores = minThreshold
	} else if sumScores > maxThreshold {
		sumScores = maxThreshold
	}
	if maxThreshold <= minThreshold {
		return 0
	}
	return framework.MaxNodeScore * (sumScores - minThreshold) / (maxThreshold - minThreshold)
}

// normalizedImageName adds the implicit ":latest" tag to an image reference without a tag (a ":" after the
// last "/"), the form node status reports. Digest references are left alone.
func normalizedImageName(name string) string {
	if strings.LastIndex(name, ":") <= strings.LastIndex(name, "/") {
		name += ":latest"
	}
	return name
}
