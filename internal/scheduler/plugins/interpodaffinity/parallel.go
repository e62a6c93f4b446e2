package interpodaffinity

import "skiff/internal/scheduler/framework"

// parallelizeUntil is the framework's per-node parallel loop.
var parallelizeUntil = framework.ParallelizeUntil
