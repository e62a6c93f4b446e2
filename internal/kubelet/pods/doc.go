// Package pods runs the pods bound to this node on a CRI runtime: one worker per pod creates its sandbox and
// containers, restarts exited containers per restartPolicy, reports status through the API, and tears the pod
// down when it is deleted (then removes the pod object with grace 0, as upstream's kubelet does).
//
// This is the first cut of the pod workers (issue C): no back-off, probes, volumes, env from objects, init
// containers or streaming yet; see the package's README note in the issue.
package pods
