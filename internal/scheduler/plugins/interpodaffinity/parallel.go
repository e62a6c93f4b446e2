package interpodaffinity

import (
	"context"
	"math"

	"k8s.io/client-go/util/workqueue"
)

// parallelism is upstream's default number of goroutines for per-node work.
const parallelism = 16

// parallelizeUntil runs fn over [0,pieces) in chunks on parallel workers, stopping early when ctx is done.
func parallelizeUntil(ctx context.Context, pieces int, fn func(int)) {
	if pieces == 0 {
		return
	}
	chunk := int(math.Sqrt(float64(pieces)))
	if r := pieces/parallelism + 1; chunk > r {
		chunk = r
	}
	if chunk < 1 {
		chunk = 1
	}
	workqueue.ParallelizeUntil(ctx, parallelism, pieces, fn, workqueue.WithChunkSize(chunk))
}
