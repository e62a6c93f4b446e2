// Package deployment is the Deployment controller, with upstream's semantics: a ReplicaSet per pod template
// (named <deployment>-<template hash>, selector and pods labelled pod-template-hash), revisions in the
// deployment.kubernetes.io/revision annotation (a rollback raises an old ReplicaSet's revision and keeps the
// old number in revision-history), RollingUpdate within maxSurge/maxUnavailable (unhealthy old replicas
// first), Recreate (old pods gone before new ones start), proportional scaling during a rollout, paused
// Deployments that only scale, revisionHistoryLimit cleanup, and status with Available and Progressing
// conditions (ProgressDeadlineExceeded after progressDeadlineSeconds without progress). kubectl rollout
// status/history/undo/pause/resume/restart work on these objects as on upstream.
//
//	Deployment/ReplicaSet/Pod informers ─▶ queue ─▶ sync: claim ReplicaSets ─▶ new RS (create/find, revision)
//	   ─▶ scale new up (maxSurge) ─▶ scale old down (maxUnavailable) ─▶ cleanup ─▶ status + conditions
package deployment
