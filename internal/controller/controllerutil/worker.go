package controllerutil

import (
	"context"
	"log/slog"
	"sync"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// NewQueue is a rate-limited work queue with the default controller rate limiter.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

// ShutDownOnDone shuts the queues down when ctx ends, which stops their workers.
func ShutDownOnDone(ctx context.Context, queues ...interface{ ShutDown() }) {
	go func() {
		<-ctx.Done()
		for _, q := range queues {
			q.ShutDown()
		}
	}()
}

// AfterSync runs fn in a new goroutine once the caches have synced (not at all if ctx ends first).
func AfterSync(ctx context.Context, synced []cache.InformerSynced, fn func()) {
	go func() {
		if !cache.WaitForCacheSync(ctx.Done(), synced...) {
			return
		}
		fn()
	}()
}

// Run is the usual start-up: the queue shuts down when ctx ends, and once the caches have synced, workers
// goroutines run Worker over it.
func Run(ctx context.Context, name string, q workqueue.TypedRateLimitingInterface[string], workers int,
	sync func(context.Context, string) error, synced ...cache.InformerSynced) {
	ShutDownOnDone(ctx, q)
	AfterSync(ctx, synced, func() {
		for i := 0; i < workers; i++ {
			go Worker(ctx, name, q, sync)
		}
	})
}

// Worker syncs keys from the queue until it shuts down: a key whose sync succeeds is forgotten by the rate
// limiter; one whose sync fails (while ctx lasts) is logged at debug level as "<name> sync" and requeued
// rate-limited.
func Worker(ctx context.Context, name string, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		err := sync(ctx, key)
		if err == nil {
			q.Forget(key)
		} else if ctx.Err() == nil {
			slog.Debug(name+" sync", "key", key, "err", err)
			q.AddRateLimited(key)
		}
		q.Done(key)
	}
}

// SlowStart runs fn(0..n-1) in batches of 1, 2, 4, ... stopping after the first batch with a failure, as
// upstream does so a failing create (quota, admission) is not hammered. It returns how many succeeded.
func SlowStart(n int, fn func(i int) error) (int, error) {
	done := 0
	for batch := 1; done < n; batch *= 2 {
		size := min(batch, n-done)
		var wg sync.WaitGroup
		errs := make(chan error, size)
		for i := done; i < done+size; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := fn(i); err != nil {
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		if len(errs) > 0 {
			return done + size - len(errs), <-errs
		}
		done += size
	}
	return done, nil
}
