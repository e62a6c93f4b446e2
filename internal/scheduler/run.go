package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"skiff/internal/scheduler/config"
	"skiff/internal/scheduler/plugins"
)

// RunOptions configure RunWithLeaderElection.
type RunOptions struct {
	Client kubernetes.Interface
	// ConfigFile is a KubeSchedulerConfiguration; empty means the defaults.
	ConfigFile string
	// LeaseNamespace/LeaseName name the coordination.k8s.io Lease the schedulers of a cluster compete for.
	LeaseNamespace, LeaseName string
}

// Build reads the configuration and makes a scheduler (so a bad config fails the server's start).
func Build(opts RunOptions) (*Scheduler, error) {
	cfg := config.Default()
	if opts.ConfigFile != "" {
		var err error
		if cfg, err = config.Load(opts.ConfigFile); err != nil {
			return nil, err
		}
	}
	reg := plugins.Registry()
	for i := range cfg.Profiles {
		cfg.Profiles[i].Registry = reg
		cfg.Profiles[i].Parallelism = cfg.Parallelism
	}
	return New(Options{Client: opts.Client, Profiles: cfg.Profiles})
}

// RunWithLeaderElection schedules while this process holds the scheduler Lease, so several servers can run
// the scheduler and only one acts. It returns when the lease is lost (or ctx ends); a Scheduler is used for one
// term only, so callers build a new one to compete again.
func (s *Scheduler) RunWithLeaderElection(ctx context.Context, opts RunOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s_%s", host, uuid.NewString())
	if opts.LeaseNamespace == "" {
		opts.LeaseNamespace, opts.LeaseName = "kube-system", "kube-scheduler"
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metaName(opts.LeaseNamespace, opts.LeaseName),
		Client:     opts.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            "kube-scheduler",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				slog.Info("scheduler leading", "identity", id)
				if err := s.Run(ctx); err != nil && ctx.Err() == nil {
					slog.Error("scheduler stopped", "err", err)
				}
				// Stop renewing a lease for a scheduler that no longer runs.
				cancel()
			},
			OnStoppedLeading: func() { slog.Info("scheduler lost its lease", "identity", id) },
		},
	})
	return nil
}
