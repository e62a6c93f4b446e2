package framework

import (
	"context"
	"math"

	"k8s.io/client-go/util/workqueue"
)

// Parallelism is upstream's default number of goroutines for per-node work.
const Parallelism = 16

// ParallelizeUntil runs fn over [0,pieces) in chunks (about the square root of pieces) on Parallelism workers,
// stopping early when ctx is done. Plugins use it for their per-node PreFilter and PreScore passes.
func ParallelizeUntil(ctx context.Context, pieces int, fn func(int)) {
	if pieces == 0 {
		return
	}
	chunk := int(math.Sqrt(float64(pieces)))
	if r := pieces/Parallelism + 1; chunk > r {
		chunk = r
	}
	workqueue.ParallelizeUntil(ctx, Parallelism, pieces, fn, workqueue.WithChunkSize(max(chunk, 1)))
}
