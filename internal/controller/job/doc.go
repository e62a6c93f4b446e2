// Package job is the Job controller, with upstream's semantics, and the ttl-after-finished controller.
//
// Pods come from the template with the batch.kubernetes.io/job-tracking finalizer and the Job as controller
// (the API server put the controller-uid and job-name labels and the selector into the Job at create). A Job
// runs min(parallelism, completions left) pods; without completions (work queue) it stops starting pods after
// the first success and completes when none is left running. Indexed Jobs give each pod an index (annotation,
// label, hostname <job>-<i>, JOB_COMPLETION_INDEX through the downward API) and report completedIndexes as
// intervals ("0-2,4"). Failures count against backoffLimit (restarts too with restartPolicy OnFailure), or per
// index with backoffLimitPerIndex/maxFailedIndexes; podFailurePolicy rules (onExitCodes, onPodConditions)
// FailJob, FailIndex, Ignore or Count; successPolicy ends Indexed Jobs early; activeDeadlineSeconds fails a
// Job that runs too long; suspend deletes the active pods and resume starts the clock again. Re-creation after
// failures backs off from 10 s, doubling, up to 10 min.
//
// Finished pods are counted through the finalizer, as upstream: recorded in status.uncountedTerminatedPods,
// finalizer removed, then moved into succeeded/failed, so a pod is counted once even across restarts. The
// outcome is first an interim condition (FailureTarget, SuccessCriteriaMet), then, once no pod is left
// terminating, Failed or Complete (with completionTime), with upstream's reasons and events.
//
//	Job/Pod informers ─▶ queue ─▶ sync: claim pods ─▶ count ─▶ fail? (policy, backoff, deadline)
//	   ─▶ manage (create/delete, slow start, back-off) ─▶ track (uncounted ─▶ finalizers ─▶ counters) ─▶ conditions
//	Job informer ─▶ ttl queue ─▶ delete finished Jobs after ttlSecondsAfterFinished (foreground)
package job
