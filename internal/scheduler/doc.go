// Package scheduler places pending pods on nodes, as kube-scheduler does, talking only through the API.
//
//	informers (pods, nodes) ─▶ queue (pending pods) and cache (nodes + bound/assumed pods)
//	loop: Pop ─▶ snapshot ─▶ profile: PreFilter ─▶ Filter ─▶ [none fit: PostFilter = preemption]
//	      ─▶ PreScore/Score ─▶ pick host ─▶ assume in cache ─▶ bind (pods/binding, async) ─▶ Scheduled event
//	unschedulable: PodScheduled=False/Unschedulable condition + FailedScheduling event, back to the queue
//
// Subpackages: framework (plugin contract), plugins/<name> (one plugin each), profile (runs plugins), cache,
// queue, config (KubeSchedulerConfiguration).
package scheduler
