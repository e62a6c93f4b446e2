package profile

import (
	"context"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/scheduler/framework"
)

// PluginSpec is one enabled plugin with its score weight (0: not scored) and args.
type PluginSpec struct {
	Name   string
	Weight int64
	Args   runtime.Object
	// Points limits the extension points the plugin runs at ("filter", "score", ...); nil means all it has.
	Points map[string]bool
}

// Config builds a Profile.
type Config struct {
	SchedulerName string
	Plugins       []PluginSpec
	Registry      map[string]framework.Factory
	Client        kubernetes.Interface
	Recorder      events.EventRecorder
	// PercentageOfNodesToScore: 0 means upstream's adaptive default.
	PercentageOfNodesToScore int32
	// Parallelism for filter and score (default 16, as upstream).
	Parallelism int
	// Snapshot is the lister plugins read; its owner updates it in place before each cycle.
	Snapshot framework.SharedLister
	// Informers lets plugins list services, workloads and namespaces (topology spread defaults, affinity
	// namespace selectors). The scheduler starts it after the plugins are built.
	Informers informers.SharedInformerFactory
	// Nominated returns the pods nominated to a node by preemption, which hold their room there.
	Nominated func(node string) []*corev1.Pod
}

// Profile is a configured set of plugins.
type Profile struct {
	name       string
	client     kubernetes.Interface
	recorder   events.EventRecorder
	preFilter  []framework.PreFilterPlugin
	filter     []framework.FilterPlugin
	postFilter []framework.PostFilterPlugin
	preScore   []framework.PreScorePlugin
	score      []framework.ScorePlugin
	weights    map[string]int64
	plugins    map[string]framework.Plugin
	pct        int32
	parallel   int
	snapshot   framework.SharedLister
	informers  informers.SharedInformerFactory
	nominated  func(node string) []*corev1.Pod
	nextStart  atomic.Int64
}

var _ framework.Handle = (*Profile)(nil)

// New instantiates the plugins of a profile.
func New(cfg Config) (*Profile, error) {
	p := &Profile{name: cfg.SchedulerName, client: cfg.Client, recorder: cfg.Recorder, weights: map[string]int64{},
		plugins: map[string]framework.Plugin{}, pct: cfg.PercentageOfNodesToScore, parallel: cfg.Parallelism, snapshot: cfg.Snapshot,
		informers: cfg.Informers, nominated: cfg.Nominated}
	if p.snapshot == nil {
		p.snapshot = framework.NewSnapshot(nil)
	}
	if p.parallel <= 0 {
		p.parallel = 16
	}
	for _, spec := range cfg.Plugins {
		factory, ok := cfg.Registry[spec.Name]
		if !ok {
			return nil, fmt.Errorf("profile %q: unknown plugin %q", cfg.SchedulerName, spec.Name)
		}
		pl, err := factory(spec.Args, p)
		if err != nil {
			return nil, fmt.Errorf("profile %q: plugin %q: %w", cfg.SchedulerName, spec.Name, err)
		}
		p.plugins[spec.Name] = pl
		at := func(point string) bool { return spec.Points == nil || spec.Points[point] }
		if x, ok := pl.(framework.PreFilterPlugin); ok && at("preFilter") {
			p.preFilter = append(p.preFilter, x)
		}
		if x, ok := pl.(framework.FilterPlugin); ok && at("filter") {
			p.filter = append(p.filter, x)
		}
		if x, ok := pl.(framework.PostFilterPlugin); ok && at("postFilter") {
			p.postFilter = append(p.postFilter, x)
		}
		if x, ok := pl.(framework.PreScorePlugin); ok && at("preScore") && spec.Weight > 0 {
			p.preScore = append(p.preScore, x)
		}
		if x, ok := pl.(framework.ScorePlugin); ok && at("score") && spec.Weight > 0 {
			p.score = append(p.score, x)
			p.weights[spec.Name] = spec.Weight
		}
	}
	return p, nil
}

// Name is the profile's schedulerName.
func (p *Profile) Name() string { return p.name }

// Plugins returns the instantiated plugins by name.
func (p *Profile) Plugins() map[string]framework.Plugin { return p.plugins }

// SetSnapshot sets the snapshot plugins see in this cycle.
func (p *Profile) SetSnapshot(s framework.SharedLister) { p.snapshot = s }

// SnapshotSharedLister implements framework.Handle.
func (p *Profile) SnapshotSharedLister() framework.SharedLister { return p.snapshot }

// ClientSet implements framework.Handle.
func (p *Profile) ClientSet() kubernetes.Interface { return p.client }

// SharedInformerFactory gives plugins listers (see Config.Informers); nil in unit tests.
func (p *Profile) SharedInformerFactory() informers.SharedInformerFactory { return p.informers }

// EventRecorder implements framework.Handle.
func (p *Profile) EventRecorder() events.EventRecorder { return p.recorder }

// RunPreFilterPlugins runs PreFilter; the merged result narrows the nodes. A rejection ends the cycle.
func (p *Profile) RunPreFilterPlugins(ctx context.Context, state *framework.CycleState, pod *corev1.Pod) (*framework.PreFilterResult, *framework.Status) {
	var result *framework.PreFilterResult
	for _, pl := range p.preFilter {
		r, st := pl.PreFilter(ctx, state, pod)
		if st.IsSkip() {
			state.SkipFilterPlugins[pl.Name()] = true
			continue
		}
		if !st.IsSuccess() {
			return nil, st.WithPlugin(pl.Name())
		}
		if r != nil && r.NodeNames != nil {
			if result == nil {
				result = &framework.PreFilterResult{NodeNames: r.NodeNames.Clone()}
			} else {
				result.NodeNames = result.NodeNames.Intersection(r.NodeNames)
			}
		}
	}
	return result, nil
}

// RunFilterPlugins implements framework.Handle: every Filter plugin on one node, stopping at the first rejection.
func (p *Profile) RunFilterPlugins(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, n *framework.NodeInfo) *framework.Status {
	for _, pl := range p.filter {
		if state.SkipFilterPlugins[pl.Name()] {
			continue
		}
		if st := pl.Filter(ctx, state, pod, n); !st.IsSuccess() {
			return st.WithPlugin(pl.Name())
		}
	}
	return nil
}

// filterWithNominated runs the filters as upstream does when pods were nominated to the node by preemption:
// pods of at least this pod's priority nominated there count as if already running (so nobody takes the room
// preemption made for them), and the pod must also fit without them.
func (p *Profile) filterWithNominated(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, n *framework.NodeInfo) *framework.Status {
	if p.nominated == nil {
		return p.RunFilterPlugins(ctx, state, pod, n)
	}
	var add []*corev1.Pod
	for _, np := range p.nominated(n.NodeName()) {
		if np.UID != pod.UID && podPriority(np) >= podPriority(pod) {
			add = append(add, np)
		}
	}
	if len(add) == 0 {
		return p.RunFilterPlugins(ctx, state, pod, n)
	}
	withState, withNode := state.Clone(), n.Clone()
	for _, np := range add {
		pi := framework.NewPodInfo(np)
		withNode.AddPod(pi)
		if st := p.RunPreFilterExtensionAddPod(ctx, withState, pod, pi, withNode); !st.IsSuccess() {
			return st
		}
	}
	if st := p.RunFilterPlugins(ctx, withState, pod, withNode); !st.IsSuccess() {
		return st
	}
	return p.RunFilterPlugins(ctx, state, pod, n)
}

func podPriority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// RunPreFilterExtensionAddPod implements framework.Handle.
func (p *Profile) RunPreFilterExtensionAddPod(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, add *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	for _, pl := range p.preFilter {
		if ext, ok := pl.(framework.PreFilterWithExtensions); ok && !state.SkipFilterPlugins[pl.Name()] && ext.PreFilterExtensions() != nil {
			if st := ext.PreFilterExtensions().AddPod(ctx, state, pod, add, n); !st.IsSuccess() {
				return st.WithPlugin(pl.Name())
			}
		}
	}
	return nil
}

// RunPreFilterExtensionRemovePod implements framework.Handle.
func (p *Profile) RunPreFilterExtensionRemovePod(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, rm *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	for _, pl := range p.preFilter {
		if ext, ok := pl.(framework.PreFilterWithExtensions); ok && !state.SkipFilterPlugins[pl.Name()] && ext.PreFilterExtensions() != nil {
			if st := ext.PreFilterExtensions().RemovePod(ctx, state, pod, rm, n); !st.IsSuccess() {
				return st.WithPlugin(pl.Name())
			}
		}
	}
	return nil
}

// RunPostFilterPlugins runs PostFilter (preemption) until one succeeds.
func (p *Profile) RunPostFilterPlugins(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, filtered framework.NodeToStatus) (*framework.PostFilterResult, *framework.Status) {
	var last *framework.Status = framework.NewStatus(framework.Unschedulable, "no PostFilter plugin")
	for _, pl := range p.postFilter {
		r, st := pl.PostFilter(ctx, state, pod, filtered)
		if st.IsSuccess() {
			return r, nil
		}
		last = st.WithPlugin(pl.Name())
		if st.Code() == framework.Error {
			return nil, last
		}
	}
	return nil, last
}

// numFeasibleNodesToFind is upstream's adaptive percentageOfNodesToScore: all nodes up to 100, then a share
// that shrinks with cluster size (50% minus 1% per 125 nodes, at least 5%), never fewer than 100.
func (p *Profile) numFeasibleNodesToFind(all int) int {
	const minFeasible = 100
	if all < minFeasible {
		return all
	}
	pct := p.pct
	if pct <= 0 {
		pct = int32(50 - all/125)
		if pct < 5 {
			pct = 5
		}
	}
	if pct >= 100 {
		return all
	}
	n := all * int(pct) / 100
	if n < minFeasible {
		return minFeasible
	}
	return n
}

// FindFeasible runs Filter over the snapshot's nodes in parallel, starting where the last cycle stopped, until
// enough feasible nodes are found. It returns the feasible nodes and the status of each rejected node.
func (p *Profile) FindFeasible(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, pre *framework.PreFilterResult) ([]*framework.NodeInfo, framework.NodeToStatus, error) {
	all := p.snapshot.NodeInfos().List()
	nodes := all
	if pre != nil && pre.NodeNames != nil {
		nodes = make([]*framework.NodeInfo, 0, pre.NodeNames.Len())
		for _, n := range all {
			if pre.NodeNames.Has(n.NodeName()) {
				nodes = append(nodes, n)
			}
		}
	}
	rejected := framework.NodeToStatus{}
	if pre != nil && pre.NodeNames != nil {
		for _, n := range all {
			if !pre.NodeNames.Has(n.NodeName()) {
				rejected[n.NodeName()] = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) PreFilter")
			}
		}
	}
	if len(nodes) == 0 {
		return nil, rejected, nil
	}
	want := p.numFeasibleNodesToFind(len(nodes))
	feasible := make([]*framework.NodeInfo, want)
	var found atomic.Int32
	var mu sync.Mutex
	var firstErr error
	start := int(p.nextStart.Load()) % len(nodes)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	checked := make([]bool, len(nodes))
	check := func(i int) {
		n := nodes[(start+i)%len(nodes)]
		checked[i] = true
		st := p.filterWithNominated(ctx, state, pod, n)
		if st.IsSuccess() {
			k := found.Add(1)
			if int(k) > want {
				cancel()
				return
			}
			feasible[k-1] = n
			if int(k) == want {
				cancel()
			}
			return
		}
		mu.Lock()
		if st.Code() == framework.Error && firstErr == nil {
			firstErr = st.AsError()
		}
		rejected[n.NodeName()] = st
		mu.Unlock()
	}
	// Small chunks and no more workers than CPUs: the search stops soon after enough nodes are found, instead of
	// every worker finishing a large chunk past that point.
	workers := min(p.parallel, goruntime.GOMAXPROCS(0))
	workqueue.ParallelizeUntil(ctx, workers, len(nodes), check, workqueue.WithChunkSize(max(min(want/(workers*4), 64), 1)))
	n := min(int(found.Load()), want)
	processed := 0
	for _, c := range checked {
		if c {
			processed++
		}
	}
	p.nextStart.Store(int64((start + processed) % len(nodes)))
	return feasible[:n], rejected, firstErr
}

// Score runs PreScore and Score, normalizes and weighs the scores, and returns each node's total.
func (p *Profile) Score(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, nodes []*framework.NodeInfo) ([]framework.NodeScore, error) {
	totals := make([]framework.NodeScore, len(nodes))
	for i, n := range nodes {
		totals[i].Name = n.NodeName()
	}
	if len(p.score) == 0 || len(nodes) == 1 {
		return totals, nil
	}
	for _, pl := range p.preScore {
		st := pl.PreScore(ctx, state, pod, nodes)
		if st.IsSkip() {
			state.SkipScorePlugins[pl.Name()] = true
			continue
		}
		if !st.IsSuccess() {
			return nil, st.AsError()
		}
	}
	scores := make([]framework.NodeScoreList, len(p.score))
	for i := range scores {
		scores[i] = make(framework.NodeScoreList, len(nodes))
	}
	var mu sync.Mutex
	var firstErr error
	workqueue.ParallelizeUntil(ctx, p.parallel, len(nodes), func(ni int) {
		for i, pl := range p.score {
			if state.SkipScorePlugins[pl.Name()] {
				continue
			}
			s, st := pl.Score(ctx, state, pod, nodes[ni])
			if !st.IsSuccess() {
				mu.Lock()
				if firstErr == nil {
					firstErr = st.AsError()
				}
				mu.Unlock()
				return
			}
			scores[i][ni] = framework.NodeScore{Name: nodes[ni].NodeName(), Score: s}
		}
	})
	if firstErr != nil {
		return nil, firstErr
	}
	for i, pl := range p.score {
		if state.SkipScorePlugins[pl.Name()] {
			continue
		}
		if ext := pl.ScoreExtensions(); ext != nil {
			if st := ext.NormalizeScore(ctx, state, pod, scores[i]); !st.IsSuccess() {
				return nil, st.AsError()
			}
		}
		w := p.weights[pl.Name()]
		for ni := range nodes {
			totals[ni].Score += scores[i][ni].Score * w
		}
	}
	return totals, nil
}

// SelectHost picks the highest total, breaking ties uniformly at random (reservoir sampling), as upstream.
func SelectHost(scores []framework.NodeScore) string {
	best, count := "", 0
	var top int64
	for _, s := range scores {
		switch {
		case count == 0 || s.Score > top:
			best, top, count = s.Name, s.Score, 1
		case s.Score == top:
			count++
			if rand.IntN(count) == 0 {
				best = s.Name
			}
		}
	}
	return best
}
