package cache

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/scheduler/framework"
)

type podState struct {
	pod     *corev1.Pod
	assumed bool
}

// Cache holds nodes and pods for scheduling. All methods are safe for concurrent use.
type Cache struct {
	mu         sync.Mutex
	nodes      map[string]*framework.NodeInfo
	pods       map[types.UID]*podState
	generation int64
	// images counts, per image name, the nodes that have it (for ImageLocality's spread factor).
	images map[string]int
	// removed lists nodes deleted since the last snapshot; dirty the nodes changed since then.
	removed map[string]bool
	dirty   map[string]bool
}

// New returns an empty cache.
func New() *Cache {
	return &Cache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]*podState{}, images: map[string]int{},
		removed: map[string]bool{}, dirty: map[string]bool{}}
}

func (c *Cache) nodeInfo(name string) *framework.NodeInfo {
	n, ok := c.nodes[name]
	if !ok {
		// Pods may be reported before their node: keep them on a placeholder without a Node.
		n = framework.NewNodeInfo()
		c.nodes[name] = n
	}
	return n
}

func (c *Cache) touch(n *framework.NodeInfo, name string) {
	c.generation++
	n.Generation = c.generation
	c.dirty[name] = true
}

// AddNode adds or replaces a node.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeInfo(node.Name)
	if n.Node != nil {
		c.countImages(n.Node, -1)
	}
	n.SetNode(node)
	c.countImages(node, 1)
	delete(c.removed, node.Name)
	c.touch(n, node.Name)
}

// UpdateNode is AddNode.
func (c *Cache) UpdateNode(_, node *corev1.Node) { c.AddNode(node) }

// RemoveNode forgets a node; pods still reported on it stay on a placeholder until they go.
func (c *Cache) RemoveNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[node.Name]
	if !ok {
		return
	}
	if n.Node != nil {
		c.countImages(n.Node, -1)
	}
	n.Node = nil
	if len(n.Pods) == 0 {
		delete(c.nodes, node.Name)
	}
	c.removed[node.Name] = true
	c.touch(n, node.Name)
}

func (c *Cache) countImages(node *corev1.Node, delta int) {
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			c.images[name] += delta
			if c.images[name] <= 0 {
				delete(c.images, name)
			}
		}
	}
}

// AssumePod counts a pod on pod.Spec.NodeName before its binding is confirmed.
func (c *Cache) AssumePod(pod *corev1.Pod) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pod.UID]; ok {
		return fmt.Errorf("pod %s/%s is already in the cache", pod.Namespace, pod.Name)
	}
	c.addPodLocked(pod, true)
	return nil
}

// ForgetPod undoes AssumePod after a failed binding.
func (c *Cache) ForgetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok && ps.assumed {
		c.removePodLocked(ps.pod)
	}
}

// IsAssumed reports whether the pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[pod.UID]
	return ok && ps.assumed
}

// AddPod records a bound pod (confirming an assumption if there was one).
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		// Confirmed (or re-reported): replace what was counted with what the API says.
		c.removePodLocked(ps.pod)
	}
	c.addPodLocked(pod, false)
}

// UpdatePod replaces a bound pod.
func (c *Cache) UpdatePod(_, pod *corev1.Pod) { c.AddPod(pod) }

// RemovePod forgets a pod.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		c.removePodLocked(ps.pod)
	}
}

func (c *Cache) addPodLocked(pod *corev1.Pod, assumed bool) {
	n := c.nodeInfo(pod.Spec.NodeName)
	n.AddPod(framework.NewPodInfo(pod))
	c.pods[pod.UID] = &podState{pod: pod, assumed: assumed}
	c.touch(n, pod.Spec.NodeName)
}

func (c *Cache) removePodLocked(pod *corev1.Pod) {
	delete(c.pods, pod.UID)
	n, ok := c.nodes[pod.Spec.NodeName]
	if !ok {
		return
	}
	_ = n.RemovePod(pod)
	if n.Node == nil && len(n.Pods) == 0 {
		delete(c.nodes, pod.Spec.NodeName)
		c.removed[pod.Spec.NodeName] = true
	}
	c.touch(n, pod.Spec.NodeName)
}

// NodeCount returns the number of known nodes.
func (c *Cache) NodeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ni := range c.nodes {
		if ni.Node != nil {
			n++
		}
	}
	return n
}

// UpdateSnapshot brings s up to date, copying only the NodeInfos changed since s was last updated. Nodes are
// kept in a stable order (insertion), so round-robin starting points stay meaningful.
func (c *Cache) UpdateSnapshot(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.generation == c.generation {
		return
	}
	changed := false
	added := false
	var replaced []*framework.NodeInfo
	// Only nodes touched since the last snapshot are copied: one bind changes one node.
	for name := range c.dirty {
		n, ok := c.nodes[name]
		if !ok || n.Generation <= s.generation {
			continue
		}
		clone := n.Clone()
		clone.ImageStates = c.imageStates(n.Node)
		if i, ok := s.index[name]; ok {
			s.infos[name] = clone
			s.ordered[i] = clone
			replaced = append(replaced, clone)
		} else {
			added = true
			s.index[name] = len(s.order)
			s.order = append(s.order, name)
			s.infos[name] = clone
			s.ordered = append(s.ordered, clone)
		}
		changed = true
	}
	c.dirty = map[string]bool{}
	if len(c.removed) > 0 {
		for name := range c.removed {
			if _, ok := c.nodes[name]; !ok {
				delete(s.infos, name)
			}
		}
		kept := s.order[:0]
		for _, name := range s.order {
			if _, ok := s.infos[name]; ok {
				kept = append(kept, name)
			}
		}
		s.order = kept
		s.index = make(map[string]int, len(kept))
		s.ordered = s.ordered[:0]
		for i, name := range kept {
			s.index[name] = i
			s.ordered = append(s.ordered, s.infos[name])
		}
		c.removed = map[string]bool{}
		changed, added = true, true
	}
	s.generation = c.generation
	if changed && (added || !s.Snapshot.Replace(replaced, c.generation)) {
		s.Snapshot.Set(s.infos, s.ordered, c.generation)
	}
}

func (c *Cache) imageStates(node *corev1.Node) map[string]*framework.ImageState {
	if node == nil || len(node.Status.Images) == 0 {
		return nil
	}
	out := make(map[string]*framework.ImageState, len(node.Status.Images))
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			out[name] = &framework.ImageState{Size: img.SizeBytes, NumNodes: c.images[name]}
		}
	}
	return out
}

// Snapshot is a framework.Snapshot that the cache updates incrementally.
type Snapshot struct {
	*framework.Snapshot
	infos      map[string]*framework.NodeInfo
	order      []string
	index      map[string]int
	ordered    []*framework.NodeInfo
	generation int64
}

// NewSnapshot returns an empty snapshot for UpdateSnapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{Snapshot: framework.NewSnapshot(nil), infos: map[string]*framework.NodeInfo{}, index: map[string]int{}}
}
