package framework

import "fmt"

// Snapshot is an immutable view of the cluster for one scheduling cycle.
type Snapshot struct {
	nodeInfoMap      map[string]*NodeInfo
	nodeInfoList     []*NodeInfo
	pos              map[string]int // index in nodeInfoList
	withAffinity     []*NodeInfo
	withRequiredAnti []*NodeInfo
	// Generation is the cache generation this snapshot reflects.
	Generation int64
}

// NewSnapshot builds a snapshot from NodeInfos (used by tests and by the cache).
func NewSnapshot(infos []*NodeInfo) *Snapshot {
	s := &Snapshot{nodeInfoMap: make(map[string]*NodeInfo, len(infos))}
	for _, n := range infos {
		s.nodeInfoMap[n.NodeName()] = n
	}
	s.rebuildLists(infos)
	return s
}

func (s *Snapshot) rebuildLists(infos []*NodeInfo) {
	s.pos = make(map[string]int, len(infos))
	s.nodeInfoList = s.nodeInfoList[:0]
	s.withAffinity = s.withAffinity[:0]
	s.withRequiredAnti = s.withRequiredAnti[:0]
	for _, n := range infos {
		if n.Node == nil {
			continue
		}
		s.pos[n.NodeName()] = len(s.nodeInfoList)
		s.nodeInfoList = append(s.nodeInfoList, n)
		if len(n.PodsWithAffinity) > 0 {
			s.withAffinity = append(s.withAffinity, n)
		}
		if len(n.PodsWithRequiredAntiAffinity) > 0 {
			s.withRequiredAnti = append(s.withRequiredAnti, n)
		}
	}
}

// Set replaces the snapshot's contents (the cache reuses one Snapshot across cycles).
func (s *Snapshot) Set(m map[string]*NodeInfo, ordered []*NodeInfo, generation int64) {
	s.nodeInfoMap = m
	s.rebuildLists(ordered)
	s.Generation = generation
}

// Replace swaps in new copies of nodes already in the snapshot, in place, and reports false (changing
// nothing) when a full Set is needed instead: a node is new, gone, or lost its Node object. The affinity lists
// are recomputed only when a changed node has, or had, pods with affinity terms.
func (s *Snapshot) Replace(changed []*NodeInfo, generation int64) bool {
	affinity := false
	for _, n := range changed {
		i, ok := s.pos[n.NodeName()]
		if !ok || n.Node == nil {
			return false
		}
		old := s.nodeInfoList[i]
		affinity = affinity || len(n.PodsWithAffinity) > 0 || len(old.PodsWithAffinity) > 0 ||
			len(n.PodsWithRequiredAntiAffinity) > 0 || len(old.PodsWithRequiredAntiAffinity) > 0
	}
	for _, n := range changed {
		s.nodeInfoList[s.pos[n.NodeName()]] = n
		s.nodeInfoMap[n.NodeName()] = n
	}
	if affinity {
		s.withAffinity = s.withAffinity[:0]
		s.withRequiredAnti = s.withRequiredAnti[:0]
		for _, n := range s.nodeInfoList {
			if len(n.PodsWithAffinity) > 0 {
				s.withAffinity = append(s.withAffinity, n)
			}
			if len(n.PodsWithRequiredAntiAffinity) > 0 {
				s.withRequiredAnti = append(s.withRequiredAnti, n)
			}
		}
	}
	s.Generation = generation
	return true
}

// NodeInfos implements SharedLister.
func (s *Snapshot) NodeInfos() NodeInfoLister { return s }

// List returns every node with a Node object.
func (s *Snapshot) List() []*NodeInfo { return s.nodeInfoList }

// HavePodsWithAffinityList returns nodes with pods that have (anti-)affinity terms.
func (s *Snapshot) HavePodsWithAffinityList() []*NodeInfo { return s.withAffinity }

// HavePodsWithRequiredAntiAffinityList returns nodes with pods that have required anti-affinity.
func (s *Snapshot) HavePodsWithRequiredAntiAffinityList() []*NodeInfo { return s.withRequiredAnti }

// Get returns one node.
func (s *Snapshot) Get(name string) (*NodeInfo, error) {
	if n, ok := s.nodeInfoMap[name]; ok && n.Node != nil {
		return n, nil
	}
	return nil, fmt.Errorf("nodeinfo not found for node name %q", name)
}
