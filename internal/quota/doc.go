// Package quota measures what objects use against a ResourceQuota, as upstream's quota evaluators do. It is
// pure: no client, no storage. The ResourceQuota admission plugin charges a new object's usage to the quotas of
// its namespace; the resourcequota controller recomputes status.used from the objects that exist.
//
//	object ─▶ Usage(resource, obj) ─▶ {count/<resource>[.<group>], legacy count (pods, services...),
//	                                   compute (cpu, requests.memory, limits.cpu...), services.nodeports...}
//	quota  ─▶ Matches(quota, resource, obj): scopes (Terminating, BestEffort, PriorityClass...) and a hard
//	          resource the object can use
//
// Glossary: hard is the limit (spec.hard, copied to status.hard by the controller); used is status.used; a
// scope narrows a quota to some pods; an object count is count/<resource>.<group> and works for any resource.
package quota
