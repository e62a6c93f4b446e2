package pods

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	internalapi "k8s.io/cri-api/pkg/apis"
)

// Config is what the pod workers need.
type Config struct {
	NodeName string
	NodeIP   string
	Client   kubernetes.Interface
	Runtime  internalapi.RuntimeService
	Images   internalapi.ImageManagerService
	// LogDir holds container logs: <LogDir>/<namespace>_<name>_<uid>/<container>/<attempt>.log.
	LogDir string
	// SyncInterval is how often workers look at their containers (upstream's PLEG relists every second).
	SyncInterval time.Duration
	// Recorder receives the pod events upstream's kubelet emits (Pulled, Created, Started, Killing, BackOff,
	// Unhealthy, Failed); nil records nothing.
	Recorder record.EventRecorder
	// Services lists the cluster's Services, for the service environment variables; Run fills it from an
	// informer when it is nil.
	Services func() []*corev1.Service
	// ClusterDNS (nameserver IPs) and ClusterDomain make the resolv.conf of ClusterFirst pods; none means
	// ClusterFirst pods get the host's. ResolvConf is the host's resolv.conf (default /etc/resolv.conf).
	ClusterDNS    []string
	ClusterDomain string
	ResolvConf    string
}

// Manager starts and stops one worker per pod on this node.
type Manager struct {
	cfg     Config
	mu      sync.Mutex
	workers map[types.UID]*worker
}

// New returns a manager.
func New(cfg Config) *Manager {
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = time.Second
	}
	return &Manager{cfg: cfg, workers: map[types.UID]*worker{}}
}

// Run watches the pods bound to this node until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	factory := informers.NewSharedInformerFactoryWithOptions(m.cfg.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", m.cfg.NodeName).String()
	}))
	if m.cfg.Services == nil {
		// As upstream's kubelet, pods start only once the Services are known, so their environment is complete.
		svcFactory := informers.NewSharedInformerFactory(m.cfg.Client, 0)
		svcLister := svcFactory.Core().V1().Services().Lister()
		svcInf := svcFactory.Core().V1().Services().Informer()
		svcFactory.Start(ctx.Done())
		defer svcFactory.Shutdown()
		if !cache.WaitForCacheSync(ctx.Done(), svcInf.HasSynced) {
			return
		}
		m.cfg.Services = func() []*corev1.Service {
			list, _ := svcLister.List(labels.Everything())
			return list
		}
	}
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { m.update(ctx, o.(*corev1.Pod)) },
		UpdateFunc: func(_, o any) { m.update(ctx, o.(*corev1.Pod)) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				m.gone(p.UID)
			}
		},
	})
	factory.Start(ctx.Done())
	if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		m.removeOrphans(ctx, inf.GetStore().List())
	}
	<-ctx.Done()
	factory.Shutdown()
}

// removeOrphans removes sandboxes of pods that no longer exist (deleted while the agent was down).
func (m *Manager) removeOrphans(ctx context.Context, current []any) {
	known := map[string]bool{}
	for _, o := range current {
		known[string(o.(*corev1.Pod).UID)] = true
	}
	sbs, err := m.cfg.Runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		return
	}
	for _, sb := range sbs {
		uid := sb.Labels["io.kubernetes.pod.uid"]
		if uid == "" || known[uid] {
			continue
		}
		slog.Info("removing sandbox of a pod that is gone", "sandbox", sb.Id, "pod", sb.Metadata.Namespace+"/"+sb.Metadata.Name)
		_ = m.cfg.Runtime.StopPodSandbox(ctx, sb.Id)
		_ = m.cfg.Runtime.RemovePodSandbox(ctx, sb.Id)
	}
}

func (m *Manager) update(ctx context.Context, pod *corev1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[pod.UID]
	if !ok {
		w = newWorker(m.cfg, pod)
		m.workers[pod.UID] = w
		go func() {
			w.run(ctx)
			m.forget(pod.UID)
		}()
	}
	w.setPod(pod)
}

// gone tells a pod's worker that the pod object no longer exists (finished pods are removed at once): it
// tears down the sandbox and containers and ends.
func (m *Manager) gone(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.workers[uid]; ok {
		w.markGone()
	}
}

func (m *Manager) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.workers[uid]; ok {
		w.stop()
		delete(m.workers, uid)
	}
}

func logErr(pod *corev1.Pod, what string, err error) {
	slog.Warn("pod worker", "pod", pod.Namespace+"/"+pod.Name, "step", what, "err", err)
}
