// Package podsecurity is the PodSecurity admission plugin: the Pod Security Standards (privileged, baseline,
// restricted) applied per namespace through upstream's labels
//
//	pod-security.kubernetes.io/enforce, enforce-version   refuse violating pods (403)
//	pod-security.kubernetes.io/audit,   audit-version     annotate the audit event (audit-violations)
//	pod-security.kubernetes.io/warn,    warn-version      HTTP Warning headers, which kubectl prints
//
// Levels and versions are parsed as upstream parses them ("latest" or "v1.N"); each check knows the version it
// appeared in, so a pinned version (enforce-version: v1.22) applies the checks as they were at that release
// (versions newer than the served release mean latest). Pods are checked on create and on significant updates
// (ephemeral containers, container lists); workload resources with pod templates (Deployments, ReplicaSets,
// StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers, PodTemplates) only warn and audit. A
// namespace's labels are validated (422 on a bad value) and a stricter enforce level warns about the namespace's
// existing pods that would violate it.
//
// The checks are written from the published standards (kubernetes.io/docs/concepts/security/pod-security-standards)
// and reproduce upstream's violation texts, so that "violates PodSecurity \"restricted:latest\": privileged
// (container \"c\" must not set securityContext.privileged=true)" reads as it does upstream.
package podsecurity
